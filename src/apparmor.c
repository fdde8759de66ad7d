/* AppArmor via libapparmor. Absent kernels are detected, never assumed. */
#include <errno.h>
#include <sys/apparmor.h>

#include "apparmor.h"
#include "macro.h"

bool apparmor_present(void) {
        return aa_is_enabled() == 1;
}

int apparmor_change_onexec(const char *profile) {
        if (aa_change_onexec(profile) < 0)
                return negative_errno();
        return 0;
}
