/* err.c — the error contract of err.h.  The names are parenthesized in the
 * definitions so that err.h's macros for the static analyzer leave them alone. */
#include "keel/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int neg_code(int code)
{
    if (code < 0)
        code = -code;
    return code ? -code : -EINVAL;
}

static int kerr_vset(struct kerr *err, int code, int with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int kerr_vset(struct kerr *err, int code, int with_errno, const char *fmt, va_list ap)
{
    if (code < 0)
        code = -code;
    if (!err)
        return neg_code(code);
    err->code = code ? code : EINVAL;
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    if (n < 0)
        err->msg[0] = '\0', n = 0;
    if (with_errno && code && (size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(code));
    return neg_code(code);
}

int (kerr_set)(struct kerr *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kerr_vset(err, code, 1, fmt, ap);
    va_end(ap);
    return r;
}

int (kerr_msg)(struct kerr *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kerr_vset(err, code, 0, fmt, ap);
    va_end(ap);
    return r;
}

int (kerr_prefix)(struct kerr *err, const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    char old[KERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    /* The chain is clipped at KERR_MSG_MAX: a cut tail is intended (and the
     * return value is looked at only to say so to the compiler). */
    if ((size_t)n < sizeof err->msg &&
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", old) >= (int)(sizeof err->msg - (size_t)n))
        err->msg[sizeof err->msg - 1] = '\0';
    return neg_code(err->code);
}

void kerr_clear(struct kerr *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
