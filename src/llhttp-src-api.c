/* SPDX-License-Identifier: Apache-2.0 */
/* llhttp built from the sources Debian 12's node-llhttp ships (configure
 * --with-llhttp-src). Angle brackets: search only -I$(LLHTTP_SRC), never
 * src/ (which has its own http.c). */
#include <api.c>
