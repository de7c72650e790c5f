/* caps.c — capability sets, see caps.h. */
#include "keel/caps.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <ctype.h>
#include <fcntl.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BIT(c) (1ull << (c))

uint64_t caps_default(void)
{
    return BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FSETID) | BIT(CAP_FOWNER) |
           BIT(CAP_SETGID) | BIT(CAP_SETUID) | BIT(CAP_SETFCAP) | BIT(CAP_SETPCAP) |
           BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SYS_CHROOT) | BIT(CAP_KILL) | BIT(CAP_AUDIT_WRITE);
}

uint64_t caps_all(void)
{
    return (CAP_LAST_CAP >= 63) ? ~0ull : (BIT(CAP_LAST_CAP + 1) - 1);
}

int caps_from_name(const char *name, int *cap)
{
    char buf[64] = "";
    size_t len = strlen(name);
    if (len == 0 || len + 5 > sizeof buf)
        return -EINVAL;
    /* libcap wants lower case "cap_xxx"; accept any case, with or without the prefix. */
    size_t off = 0;
    if (strncasecmp(name, "cap_", 4) != 0) {
        memcpy(buf, "cap_", 4);
        off = 4;
    }
    for (size_t i = 0; i <= len; i++)
        buf[off + i] = (char)tolower((unsigned char)name[i]);
    cap_value_t v;
    if (cap_from_name(buf, &v) < 0 || v < 0 || v > CAP_LAST_CAP)
        return -EINVAL;
    /* cap_from_name also accepts numbers; a name must be a name. */
    if (isdigit((unsigned char)buf[4]))
        return -EINVAL;
    *cap = v;
    return 0;
}

int caps_parse(const char *spec, uint64_t *set, char *why)
{
    _cleanup_free_ char *copy = strdup(spec);
    if (!copy)
        return -ENOMEM;
    uint64_t result = *set, exact = 0;
    bool signed_seen = false, bare_seen = false, first = true;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save), first = false) {
        if (strcmp(tok, "none") == 0 || strcmp(tok, "all") == 0) {
            if (!first) {
                if (why)
                    snprintf(why, CAPS_WHY_MAX, "'%s' must come first", tok);
                return -EINVAL;
            }
            result = tok[0] == 'n' ? 0 : caps_all();
            signed_seen = true;
            continue;
        }
        char sign = '\0';
        if (tok[0] == '+' || tok[0] == '-')
            sign = tok[0];
        int cap;
        if (caps_from_name(tok + (sign != 0), &cap) < 0) {
            if (why)
                snprintf(why, CAPS_WHY_MAX, "unknown capability '%s'", tok + (sign != 0));
            return -EINVAL;
        }
        if (sign == '+')
            result |= BIT(cap), signed_seen = true;
        else if (sign == '-')
            result &= ~BIT(cap), signed_seen = true;
        else
            exact |= BIT(cap), bare_seen = true;
    }
    if (signed_seen && bare_seen) {
        if (why)
            snprintf(why, CAPS_WHY_MAX, "mixes +/- changes with a plain list of names");
        return -EINVAL;
    }
    if (!signed_seen && !bare_seen) {
        if (why)
            snprintf(why, CAPS_WHY_MAX, "is empty (use 'none' for no capabilities)");
        return -EINVAL;
    }
    *set = bare_seen ? exact : result;
    return 0;
}

char *caps_format(uint64_t set, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    if (set == 0) {
        snprintf(buf, n, "none");
        return buf;
    }
    for (int c = 0; c <= CAP_LAST_CAP; c++) {
        if (!(set & BIT(c)))
            continue;
        char *name = cap_to_name(c);
        if (!name)
            continue;
        const char *shown = strncmp(name, "cap_", 4) == 0 ? name + 4 : name;
        int w = snprintf(buf + used, n - used, "%s%s", used ? " " : "", shown);
        cap_free(name);
        if (w < 0 || (size_t)w >= n - used)
            break;
        for (size_t i = used; i < used + (size_t)w; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        used += (size_t)w;
    }
    return buf;
}

/* Read once per keel process (the child of a fork inherits the value): the
 * setup child of every container used to read the file again. */
static int last_cap_of_kernel(void)
{
    static int last = -1;
    if (last >= 0)
        return last;
    last = CAP_LAST_CAP;
    _cleanup_free_ char *s = NULL;
    if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &s, NULL) == 0) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (!errno && end != s && (*end == '\n' || !*end) && v > 0 && v < 64)
            last = (int)v;
    }
    return last;
}

uint64_t caps_bounding_from(const char *status)
{
    static uint64_t bset;
    static bool known;
    if (known)
        return bset;
    char buf[4096] = "";   /* zeroed: the analyzer cannot see that read() and the NUL define it */
    if (!status && sys_read_status(buf, sizeof buf) == 0)
        status = buf;
    if (!status || sys_status_hex(status, "CapBnd:", &bset) < 0) {
        int last = last_cap_of_kernel();
        bset = 0;
        for (int c = 0; c <= last; c++)
            if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
                bset |= BIT(c);
    }
    known = true;
    return bset;
}

uint64_t caps_bounding(void)
{
    return caps_bounding_from(NULL);
}

int caps_raise_effective(struct kerr *err)
{
    cap_t caps = cap_get_proc();
    if (!caps)
        return kerr_set(err, errno, "cannot read keel's capabilities");
    int r = 0;
    for (int c = 0; c <= last_cap_of_kernel() && r == 0; c++) {
        cap_value_t v = c;
        cap_flag_value_t held;
        if (cap_get_flag(caps, v, CAP_PERMITTED, &held) == 0 && held == CAP_SET)
            r = cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
    }
    if (r == 0 && cap_set_proc(caps) < 0)
        r = -1;
    int e = errno;
    cap_free(caps);
    return r < 0 ? kerr_set(err, e, "cannot raise keel's effective capabilities") : 0;
}

int caps_drop_bounding(uint64_t keep, uint64_t bounding, struct kerr *err)
{
    int last = bounding == ~UINT64_C(0) ? last_cap_of_kernel() : 63 - __builtin_clzll(bounding | 1);
    /* Only what is in it (dropping an absent one is a no-op). */
    for (int c = 0; c <= last; c++)
        if ((bounding & BIT(c)) && !(keep & BIT(c)) && cap_drop_bound(c) < 0 && errno != EINVAL)
            return kerr_set(err, errno, "cannot drop capability %d from the bounding set", c);
    return 0;
}

int caps_apply(uint64_t set, uint64_t ambient, uint64_t bounding, uid_t uid, gid_t gid, const gid_t *groups,
               size_t n_groups, struct kerr *err)
{
    /* Every capability that can be in BOUNDING: keel's (read before the
     * fork, no bit above the kernel's last), or after joining a user
     * namespace (all bits) the kernel's, read here only then. */
    int last = bounding == ~UINT64_C(0) ? last_cap_of_kernel() : 63 - __builtin_clzll(bounding | 1);
    /* A capability keel itself does not hold cannot be given ("all" means all
     * of keel's): leave it out rather than fail in capset. */
    set &= bounding;
    /* The bounding set first, while we still hold CAP_SETPCAP. */
    int r = caps_drop_bounding(set, bounding, err);
    if (r < 0)
        return r;

    /* Keep permitted capabilities across the uid change; effective ones are
     * restored from permitted below.  A change to uid 0 clears nothing
     * (capabilities(7): only one that leaves no uid 0 does), so root needs
     * no PR_SET_KEEPCAPS; the flag does not outlive the execve anyway. */
    if (uid != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return kerr_set(err, errno, "cannot set PR_SET_KEEPCAPS");
    if (groups && setgroups(n_groups, groups) < 0)
        return kerr_set(err, errno, "cannot set supplementary groups");
    if (setresgid(gid, gid, gid) < 0)
        return kerr_set(err, errno, "cannot switch to gid %u", (unsigned)gid);
    if (setresuid(uid, uid, uid) < 0)
        return kerr_set(err, errno, "cannot switch to uid %u", (unsigned)uid);
    if (uid != 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return kerr_set(err, errno, "cannot clear PR_SET_KEEPCAPS");

    /* One capset(2) with the three sets (libcap's cap_set_proc asks the
     * kernel for its version first, and allocates). */
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    uint64_t inheritable = ambient & set, effective = set & ~CAPS_READ_OVERRIDE;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        data[i].permitted = (uint32_t)(set >> (32 * i));
        data[i].effective = (uint32_t)(effective >> (32 * i));
        data[i].inheritable = (uint32_t)(inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0)
        return kerr_set(err, errno, "cannot set the capability sets");

    /* The raw call: libcap's cap_reset_ambient() first asks for every
     * capability whether it is ambient (41 prctl calls). */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return kerr_set(err, errno, "cannot clear the ambient capability set");
    for (int c = 0; c <= last; c++)
        if ((ambient & set & BIT(c)) && cap_set_ambient(c, CAP_SET) < 0)
            return kerr_set(err, errno, "cannot raise ambient capability %d", c);
    return 0;
}

int caps_effective(uint64_t drop, struct kerr *err)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &hdr, data) < 0)
        return kerr_set(err, errno, "cannot read the capability sets");
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        data[i].effective = data[i].permitted & ~(uint32_t)(drop >> (32 * i));
    if (syscall(SYS_capset, &hdr, data) < 0)
        return kerr_set(err, errno, "cannot set the effective capabilities");
    return 0;
}
