/* fuzz_fstab.c — `[system] fstab = SOURCE TARGET FSTYPE [OPTIONS]` (fstab.h):
 * the line is the operator's, but PID 1 mounts what it parses, so whatever
 * parses must be a mount keel is willing to make.  Each input line is one
 * value.
 *
 * fuzz-requires: src/fstab.c src/parse.c
 *
 * Invariants beyond "no crash, no leak": an accepted entry has a plain
 * absolute target outside keel's own mounts (/, /proc, /sys, /dev, /run), a
 * file system type of [a-z0-9_.], nosuid and nodev unless suid / dev were
 * asked for; its fstab_format line (fstab(5)'s reading: suid and dev unless
 * nosuid / nodev are shown) parses again into the same entry but for those
 * two, which keel's syntax turns on when absent; a rejected one says why.
 */
#include "fuzz.h"

#include <errno.h>
#include <sys/mount.h>

#include "keel/fstab.h"
#include "keel/parse.h"

static bool under(const char *t, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(t, dir, n) == 0 && (t[n] == '\0' || t[n] == '/');
}

static void one(const char *line)
{
    struct fstab_entry e;
    char why[PARSE_WHY_MAX];
    memset(why, 'x', sizeof why);
    int r = fstab_parse(line, &e, why);
    if (r < 0) {
        FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
        if (r == -EINVAL)
            FUZZ_ASSERT(memchr(why, '\0', sizeof why) && why[0]);
        return;
    }
    FUZZ_ASSERT(e.target[0] == '/' && strcmp(e.target, "/") != 0 && !strstr(e.target, "/..") &&
                !strstr(e.target, "//"));
    FUZZ_ASSERT(!under(e.target, "/proc") && !under(e.target, "/sys") && !under(e.target, "/dev") &&
                !under(e.target, "/run"));
    FUZZ_ASSERT(e.fstype[0] && !e.fstype[strspn(e.fstype, "abcdefghijklmnopqrstuvwxyz0123456789_.")]);
    if (!strstr(line, "suid"))
        FUZZ_ASSERT(e.flags & MS_NOSUID);
    if (!strstr(line, "dev"))
        FUZZ_ASSERT(e.flags & MS_NODEV);
    char buf[2048];
    fstab_format(&e, buf, sizeof buf);
    if (strlen(buf) < sizeof buf - 1) {
        struct fstab_entry again;
        FUZZ_ASSERT(fstab_parse(buf, &again, why) == 0);
        FUZZ_ASSERT(strcmp(again.source, e.source) == 0 && strcmp(again.target, e.target) == 0 &&
                    strcmp(again.fstype, e.fstype) == 0 && again.flags == (e.flags | MS_NOSUID | MS_NODEV) && again.nofail == e.nofail &&
                    (again.data == NULL) == (e.data == NULL) && (!e.data || strcmp(again.data, e.data) == 0));
        fstab_free(&again);
    }
    fstab_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *q = data;
    size_t left = size;
    char *whole = fuzz_str(data, size);
    one(whole);
    free(whole);
    while (left) {
        char *line;
        fuzz_cut(&q, &left, "\n", &line);
        one(line);
        free(line);
    }
    return 0;
}
