/* AppArmor: change_onexec into the sandbox profile where the kernel has it. */
#pragma once
#include <stdbool.h>

/* True when the running kernel has AppArmor enabled. */
bool apparmor_present(void);

/* aa_change_onexec(profile); -errno on failure. */
int apparmor_change_onexec(const char *profile);
