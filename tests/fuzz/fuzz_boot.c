/* fuzz_boot.c — the pure helpers of the boot module (boot.h) over what the
 * kernel hands PID 1: the command line (boot_cmdline_value, set by whoever
 * configured the boot loader), /proc/self/mountinfo (boot_mountinfo_root,
 * boot_mountinfo_points, read at boot and at shutdown), an evdev capability
 * bitmap (boot_caps_has_key) and sysctl keys (boot_sysctl_path).  A crash
 * here is a kernel panic, so every input must give an answer.
 *
 * fuzz-requires: src/boot.c
 *
 * Invariants beyond "no crash, no leak": a command-line value holds no
 * quote; a sysctl path stays below /proc/sys/ with no "." or ".." component;
 * mount points are NUL-terminated strings; fstype fits its buffer.
 */
#include "fuzz.h"

#include <errno.h>
#include <linux/input-event-codes.h>

#include "keel/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);

    static const char *const keys[] = { "keel.manifest", "console", "a", "" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *v = boot_cmdline_value(s, keys[i]);
        if (v) {
            FUZZ_ASSERT(strchr(v, '"') == NULL);
            FUZZ_ASSERT(strlen(v) < size);
            free(v);
        }
    }

    char fstype[32];
    bool parentless = false;
    memset(fstype, 'x', sizeof fstype);
    int r = boot_mountinfo_root(s, fstype, sizeof fstype, &parentless);
    FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -EINVAL || r == -ENAMETOOLONG);
    if (r == 0)
        FUZZ_ASSERT(memchr(fstype, '\0', sizeof fstype) != NULL);

    char **points = NULL;
    r = boot_mountinfo_points(s, &points);
    if (r == 0) {
        FUZZ_ASSERT(points != NULL);
        for (size_t i = 0; points[i]; i++)
            free(points[i]);
        free(points);
    } else {
        FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
    }

    (void)boot_caps_has_key(s, KEY_POWER);
    (void)boot_caps_has_key(s, 0);
    (void)boot_caps_has_key(s, 1023);
    (void)boot_caps_has_key(s, 100000);

    char path[128];
    memset(path, 'x', sizeof path);
    r = boot_sysctl_path(s, path, sizeof path);
    if (r == 0) {
        FUZZ_ASSERT(memchr(path, '\0', sizeof path) != NULL);
        FUZZ_ASSERT(strncmp(path, "/proc/sys/", 10) == 0);
        FUZZ_ASSERT(strstr(path, "//") == NULL);
        /* No "." or ".." component ("..x" is a file name like any other). */
        for (const char *c = path + 10; *c;) {
            size_t len = strcspn(c, "/");
            FUZZ_ASSERT(!(len == 1 && c[0] == '.') && !(len == 2 && c[0] == '.' && c[1] == '.'));
            c += len + (c[len] == '/');
        }
    }

    free(s);
    return 0;
}
