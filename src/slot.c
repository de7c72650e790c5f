/* slot.c — the A/B slot state machine and its state file.  See slot.h. */
#include "keel/slot.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *slot_name(enum slot s)
{
    return s == SLOT_A ? "A" : s == SLOT_B ? "B" : "-";
}

const char *slot_event_name(enum slot_event ev)
{
    static const char *const names[] = { "install", "start", "commit", "fail", "boot", "rollback" };
    return (unsigned)ev < sizeof names / sizeof names[0] ? names[ev] : "?";
}

enum slot slot_inactive(const struct slot_state *s)
{
    return s->active == SLOT_A ? SLOT_B : SLOT_A;
}

enum slot slot_current(const struct slot_state *s)
{
    return s->trying != SLOT_NONE ? s->trying : s->active;
}

int slot_step(struct slot_state *s, enum slot_event ev)
{
    bool trying = s->trying != SLOT_NONE;
    switch (ev) {
    case SLOT_EV_INSTALL:
        if (trying)
            return -EBUSY;
        s->trying = slot_inactive(s);
        if (s->previous == s->trying)
            s->previous = SLOT_NONE;   /* its contents are being replaced */
        s->attempts = 0;
        return 0;
    case SLOT_EV_START:
        if (!trying)
            return -EINVAL;
        s->attempts++;
        return 0;
    case SLOT_EV_COMMIT:
        if (!trying)
            return -EINVAL;
        s->previous = s->active;
        s->active = s->trying;
        s->trying = SLOT_NONE;
        s->attempts = 0;
        return 0;
    case SLOT_EV_FAIL:
        if (!trying)
            return -EINVAL;
        s->trying = SLOT_NONE;
        s->attempts = 0;
        return 0;
    case SLOT_EV_BOOT:
        /* The switch to a freshly installed slot is a reboot: the first boot
         * after INSTALL starts it (attempts 0 -> 1).  Any later boot while
         * it is still trying means it never proved itself (a watchdog reset,
         * a power cut, a hang): the old slot boots.  This is what makes the
         * hardware watchdog a rollback. */
        if (trying && s->attempts == 0) {
            s->attempts = 1;
        } else if (trying) {
            s->trying = SLOT_NONE;
            s->attempts = 0;
        }
        return 0;
    case SLOT_EV_ROLLBACK:
        if (trying) {
            s->trying = SLOT_NONE;
            s->attempts = 0;
            return 0;
        }
        if (s->previous == SLOT_NONE && s->active == SLOT_NONE)
            return -EINVAL;
        enum slot a = s->active;
        s->active = s->previous;
        s->previous = a;
        return 0;
    }
    return -EINVAL;
}

static int parse_slot(const char *v, enum slot *out)
{
    if (strcmp(v, "A") == 0)
        *out = SLOT_A;
    else if (strcmp(v, "B") == 0)
        *out = SLOT_B;
    else if (strcmp(v, "-") == 0)
        *out = SLOT_NONE;
    else
        return -1;
    return 0;
}

int slot_state_parse(const char *buf, size_t len, struct slot_state *s, struct kerr *err)
{
    static const char *const keys[] = { "active", "trying", "previous", "attempts", "committed" };
    unsigned seen = 0;
    bool committed = false;
    memset(s, 0, sizeof *s);
    if (len > SLOT_STATE_MAX || memchr(buf, '\0', len))
        return kerr_msg(err, EINVAL, "slot state: not a state file");
    int lineno = 0;
    for (size_t pos = 0; pos < len;) {
        lineno++;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
            return kerr_msg(err, EINVAL, "slot state line %d: no newline at the end", lineno);
        char line[SLOT_STATE_MAX + 1];
        size_t ll = (size_t)(nl - (buf + pos));
        memcpy(line, buf + pos, ll);
        line[ll] = '\0';
        pos += ll + 1;
        char *sp = strchr(line, ' ');
        if (!sp)
            return kerr_msg(err, EINVAL, "slot state line %d: not \"KEY VALUE\"", lineno);
        *sp = '\0';
        const char *v = sp + 1;
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && strcmp(keys[k], line) != 0)
            k++;
        if (k == sizeof keys / sizeof keys[0])
            return kerr_msg(err, EINVAL, "slot state line %d: unknown key '%s'", lineno, line);
        if (seen & (1u << k))
            return kerr_msg(err, EINVAL, "slot state line %d: '%s' given twice", lineno, line);
        seen |= 1u << k;
        int bad = 0;
        switch (k) {
        case 0: bad = parse_slot(v, &s->active); break;
        case 1: bad = parse_slot(v, &s->trying); break;
        case 2: bad = parse_slot(v, &s->previous); break;
        case 3: {
            char *end;
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            bad = (*v < '0' || *v > '9' || *end || errno || n > 1000000) ? -1 : 0;
            s->attempts = (unsigned)n;
            break;
        }
        case 4:
            bad = strcmp(v, "yes") == 0 ? (committed = true, 0) : strcmp(v, "no") == 0 ? 0 : -1;
            break;
        }
        if (bad)
            return kerr_msg(err, EINVAL, "slot state line %d: bad value '%s' for %s", lineno, v, line);
    }
    if (seen != (1u << 5) - 1)
        return kerr_msg(err, EINVAL, "slot state: a key is missing");
    if (committed != (s->trying == SLOT_NONE))
        return kerr_msg(err, EINVAL, "slot state: committed contradicts trying");
    if (s->trying != SLOT_NONE && s->trying == s->active)
        return kerr_msg(err, EINVAL, "slot state: the trying slot is the active one");
    return 0;
}

int slot_state_format(const struct slot_state *s, char *buf, size_t n)
{
    int k = snprintf(buf, n, "active %s\ntrying %s\nprevious %s\nattempts %u\ncommitted %s\n", slot_name(s->active),
                     slot_name(s->trying), slot_name(s->previous), s->attempts,
                     s->trying == SLOT_NONE ? "yes" : "no");
    return k < 0 || (size_t)k >= n ? -ENOSPC : k;
}

int slot_state_load(int dirfd, struct slot_state *s, struct kerr *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = read_file_at(dirfd, SLOT_STATE_FILE, SLOT_STATE_MAX, &buf, &len);
    if (r == -ENOENT) {
        memset(s, 0, sizeof *s);
        return 0;
    }
    if (r < 0)
        return kerr_set(err, -r, "cannot read the slot state %s", SLOT_STATE_FILE);
    return slot_state_parse(buf, len, s, err);
}

int slot_state_save(int dirfd, const struct slot_state *s, struct kerr *err)
{
    char buf[SLOT_STATE_MAX];
    int n = slot_state_format(s, buf, sizeof buf);
    if (n < 0)
        return kerr_set(err, -n, "cannot format the slot state");
    if (mkdirat(dirfd, "slots", 0700) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create slots/");
    _cleanup_close_ int dir = openat(dirfd, "slots", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dir < 0)
        return kerr_set(err, errno, "cannot open slots/");
    /* write + fsync + rename + fsync(dir): after a power cut the file is
     * the old state or the new one, never a mix or empty. */
    _cleanup_close_ int fd = openat(dir, "state.new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create slots/state.new");
    int r = write_all(fd, buf, (size_t)n);
    if (r < 0)
        return kerr_set(err, -r, "cannot write slots/state.new");
    if (fsync(fd) < 0)
        return kerr_set(err, errno, "cannot fsync slots/state.new");
    if (renameat(dir, "state.new", dir, "state") < 0)
        return kerr_set(err, errno, "cannot rename slots/state.new to slots/state");
    if (fsync(dir) < 0)
        return kerr_set(err, errno, "cannot fsync slots/");
    return 0;
}
