/* seccomp_profile.c — the custom seccomp filter format, see seccomp_profile.h. */
#include "keel/seccomp_profile.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int value; } errno_names[] = {
    { "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EIO", EIO }, { "E2BIG", E2BIG }, { "EBADF", EBADF },
    { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EFAULT", EFAULT },
    { "EBUSY", EBUSY }, { "EEXIST", EEXIST }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC },
    { "EROFS", EROFS }, { "ENOSYS", ENOSYS }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ENOTSUP", ENOTSUP },
    { "EAFNOSUPPORT", EAFNOSUPPORT }, { "EPROTONOSUPPORT", EPROTONOSUPPORT },
};

static int parse_errno(const char *s, int *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
        if (strcmp(s, errno_names[i].name) == 0) {
            *out = errno_names[i].value;
            return 0;
        }
    if (!*s || strlen(s) > 4)
        return -EINVAL;
    int v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (*p - '0');
    }
    /* SECCOMP_RET_DATA holds 16 bits, but errno values end at 4095. */
    if (v < 1 || v > 4095)
        return -EINVAL;
    *out = v;
    return 0;
}

static void report(char ***errors, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(char ***errors, const char *file, int line, const char *fmt, ...)
{
    if (!errors)
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    strv_push_take(errors, xasprintf("%s:%d: %s", file, line, msg));
}

static int parse_action(const char *w, enum seccomp_action *a)
{
    if (strcmp(w, "allow") == 0)
        *a = SECCOMP_ALLOW;
    else if (strcmp(w, "errno") == 0)
        *a = SECCOMP_ERRNO;
    else if (strcmp(w, "kill") == 0)
        *a = SECCOMP_KILL;
    else
        return -EINVAL;
    return 0;
}

#define MAX_WORDS 4
#define WORD_MAX 64
#define MAX_RULES 4096

int seccomp_profile_parse(const char *file, const char *buf, size_t len, struct seccomp_profile *out,
                          char ***errors)
{
    memset(out, 0, sizeof *out);
    out->default_errno = EPERM;
    int default_line = 0, lineno = 0;
    bool bad = false;
    size_t pos = 0;
    while (pos < len) {
        lineno++;
        size_t end = pos;
        while (end < len && buf[end] != '\n')
            end++;
        const char *line = buf + pos;
        size_t ll = end - pos;
        pos = end + 1;
        if (memchr(line, '\0', ll)) {
            report(errors, file, lineno, "NUL byte in line");
            bad = true;
            continue;
        }
        /* Split into words; '#' starts a comment anywhere. */
        char words[MAX_WORDS][WORD_MAX];
        int nw = 0;
        bool too_long = false;
        for (size_t i = 0; i < ll;) {
            while (i < ll && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
                i++;
            if (i >= ll || line[i] == '#')
                break;
            size_t b = i;
            while (i < ll && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '#')
                i++;
            if (nw == MAX_WORDS) {
                nw++;
                break;
            }
            if (i - b >= WORD_MAX) {
                too_long = true;
                break;
            }
            memcpy(words[nw], line + b, i - b);
            words[nw][i - b] = '\0';
            nw++;
        }
        if (nw == 0 && !too_long)
            continue;
        if (too_long) {
            report(errors, file, lineno, "word longer than %d characters", WORD_MAX - 1);
            bad = true;
            continue;
        }
        if (nw > 3) {
            report(errors, file, lineno, "too many words (expected: ACTION SYSCALL [ERRNO])");
            bad = true;
            continue;
        }
        enum seccomp_action a;
        int ev = EPERM;
        if (strcmp(words[0], "default") == 0) {
            if (nw < 2 || parse_action(words[1], &a) < 0) {
                report(errors, file, lineno, "expected \"default allow\", \"default errno [ERRNO]\" or \"default kill\"");
                bad = true;
                continue;
            }
            if (nw == 3 && (a != SECCOMP_ERRNO || parse_errno(words[2], &ev) < 0)) {
                report(errors, file, lineno, a == SECCOMP_ERRNO ? "invalid errno \"%s\"" : "unexpected \"%s\"",
                       words[2]);
                bad = true;
                continue;
            }
            if (default_line) {
                report(errors, file, lineno, "duplicate default action (first at line %d)", default_line);
                bad = true;
                continue;
            }
            default_line = lineno;
            out->default_action = a;
            out->default_errno = ev;
            continue;
        }
        if (parse_action(words[0], &a) < 0) {
            report(errors, file, lineno, "unknown action \"%s\" (expected default, allow, errno or kill)", words[0]);
            bad = true;
            continue;
        }
        if (nw < 2) {
            report(errors, file, lineno, "missing system call name after \"%s\"", words[0]);
            bad = true;
            continue;
        }
        if (nw == 3 && (a != SECCOMP_ERRNO || parse_errno(words[2], &ev) < 0)) {
            report(errors, file, lineno, a == SECCOMP_ERRNO ? "invalid errno \"%s\" (a name such as EPERM or 1..4095)"
                                                            : "unexpected \"%s\"", words[2]);
            bad = true;
            continue;
        }
        if (seccomp_syscall_resolve_name(words[1]) == __NR_SCMP_ERROR) {
            report(errors, file, lineno, "unknown system call \"%s\"", words[1]);
            bad = true;
            continue;
        }
        int dup = 0;
        for (size_t i = 0; i < out->n_rules; i++)
            if (strcmp(out->rules[i].name, words[1]) == 0)
                dup = out->rules[i].line;
        if (dup) {
            report(errors, file, lineno, "duplicate rule for %s (first at line %d)", words[1], dup);
            bad = true;
            continue;
        }
        if (out->n_rules >= MAX_RULES) {
            report(errors, file, lineno, "too many rules (at most %d)", MAX_RULES);
            bad = true;
            break;
        }
        struct seccomp_rule *nr = realloc(out->rules, (out->n_rules + 1) * sizeof *nr);
        if (!nr) {
            seccomp_profile_free(out);
            report(errors, file, lineno, "out of memory");
            return -ENOMEM;
        }
        out->rules = nr;
        struct seccomp_rule *r = &nr[out->n_rules++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", words[1]);
        r->action = a;
        r->errno_value = ev;
        r->line = lineno;
    }
    if (!default_line && !bad) {
        report(errors, file, lineno ? lineno : 1, "missing \"default\" action line");
        bad = true;
    }
    if (bad) {
        seccomp_profile_free(out);
        return -EINVAL;
    }
    return 0;
}

void seccomp_profile_free(struct seccomp_profile *p)
{
    free(p->rules);
    p->rules = NULL;
    p->n_rules = 0;
}
