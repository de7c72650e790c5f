/* parse.c — pure value parsers, see parse.h. */
#include "keel/parse.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

void parse_set_why(char *why, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, PARSE_WHY_MAX, fmt, ap);
        va_end(ap);
    }
}

#define fail PARSE_FAIL

/* Reads the leading run of digits of s as an unsigned number; *end is set past
 * it.  -ERANGE on overflow, -EINVAL when there is no digit. */
static int leading_u64(const char *s, uint64_t *out, const char **end)
{
    uint64_t v = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    *end = p;
    return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why)
{
    uint64_t v;
    const char *end;
    int r = leading_u64(s, &v, &end);
    if (r == -ERANGE)
        return fail(why, ERANGE, "'%s' is too large", s);
    if (r < 0 || *end)
        return fail(why, EINVAL, "'%s' is not a non-negative whole number", s);
    if (v < min || v > max)
        return fail(why, ERANGE, "%s is out of range (%llu to %llu)", s, (unsigned long long)min,
                    (unsigned long long)max);
    *out = v;
    return 0;
}

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out, char *why)
{
    bool neg = *s == '-';
    uint64_t mag;
    const char *end;
    int r = leading_u64(s + neg, &mag, &end);
    if (r == -ERANGE || (!neg && mag > (uint64_t)INT64_MAX) || (neg && mag > (uint64_t)INT64_MAX + 1))
        return fail(why, ERANGE, "'%s' is out of range", s);
    if (r < 0 || *end)
        return fail(why, EINVAL, "'%s' is not a whole number", s);
    int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    if (v < min || v > max)
        return fail(why, ERANGE, "%s is out of range (%lld to %lld)", s, (long long)min, (long long)max);
    *out = v;
    return 0;
}

int parse_bool(const char *s, bool *out, char *why)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return fail(why, EINVAL, "'%s' is not yes or no", s);
}

int parse_size(const char *s, int64_t *out, char *why)
{
    if (strcmp(s, "max") == 0) {
        *out = KEEL_LIMIT_MAX;
        return 0;
    }
    uint64_t v;
    const char *end;
    int r = leading_u64(s, &v, &end);
    if (r == -ERANGE)
        return fail(why, ERANGE, "size '%s' is too large", s);
    if (r < 0)
        return fail(why, EINVAL, "'%s' is not a size (a number with an optional K, M, G or T suffix, or max)", s);
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default:
        return fail(why, EINVAL, "'%s' has an unknown size suffix (K, M, G or T)", s);
    }
    if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 || strcmp(end, "b") == 0))
        end += strlen(end);
    if (*end)
        return fail(why, EINVAL, "'%s' has an unknown size suffix (K, M, G or T)", s);
    if (v > ((uint64_t)INT64_MAX >> shift))
        return fail(why, ERANGE, "size '%s' is too large", s);
    *out = (int64_t)(v << shift);
    return 0;
}

int parse_duration_ms(const char *s, uint64_t *out_ms, char *why)
{
    uint64_t v;
    const char *end;
    int r = leading_u64(s, &v, &end);
    if (r == -ERANGE)
        return fail(why, ERANGE, "duration '%s' is too large", s);
    if (r < 0)
        return fail(why, EINVAL, "'%s' is not a duration (a number with ms, s, m or h)", s);
    uint64_t mult;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        return fail(why, EINVAL, "'%s' has an unknown duration unit (ms, s, m or h)", s);
    /* A week is more than any timeout keel has a use for. */
    if (v > 7ull * 24 * 3600000 / mult)
        return fail(why, ERANGE, "duration '%s' is too long (at most a week)", s);
    *out_ms = v * mult;
    return 0;
}

int parse_rate_bits(const char *s, uint64_t *out, char *why)
{
    uint64_t v;
    const char *end;
    int r = leading_u64(s, &v, &end);
    if (r == -ERANGE)
        return fail(why, ERANGE, "rate '%s' is too large", s);
    if (r < 0)
        return fail(why, EINVAL, "'%s' is not a rate (e.g. 10mbit, 500kbit, 1gbit, 2mbps)", s);
    uint64_t mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1000; end++; break;
    case 'm': case 'M': mult = 1000000; end++; break;
    case 'g': case 'G': mult = 1000000000; end++; break;
    default: break;
    }
    if (strcmp(end, "bps") == 0)
        mult *= 8;    /* tc's convention: bps means bytes per second */
    else if (*end && strcmp(end, "bit") != 0)
        return fail(why, EINVAL, "'%s' has an unknown rate unit (bit or bps)", s);
    if (v == 0)
        return fail(why, ERANGE, "rate '%s' must be more than zero", s);
    if (v > UINT64_MAX / mult / 8)
        return fail(why, ERANGE, "rate '%s' is too large", s);
    *out = v * mult;
    return 0;
}

int parse_cpus(const char *s, int64_t *quota_us, int64_t *period_us, char *why)
{
    const int64_t period = 100000;
    uint64_t whole = 0, frac = 0, scale = 1;
    const char *end;
    const char *p = s;
    if (*p != '.') {
        int r = leading_u64(p, &whole, &end);
        if (r < 0)
            return fail(why, EINVAL, "'%s' is not a number of CPUs (e.g. 0.5 or 2)", s);
        p = end;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return fail(why, EINVAL, "'%s' is not a number of CPUs (e.g. 0.5 or 2)", s);
        for (; isdigit((unsigned char)*p); p++) {
            if (scale >= 1000000)
                return fail(why, EINVAL, "'%s' has more than 6 decimals", s);
            frac = frac * 10 + (uint64_t)(*p - '0');
            scale *= 10;
        }
    }
    if (*p)
        return fail(why, EINVAL, "'%s' is not a number of CPUs (e.g. 0.5 or 2)", s);
    if (whole > 4096)
        return fail(why, ERANGE, "%s CPUs is more than 4096", s);
    int64_t q = (int64_t)whole * period + (int64_t)(frac * (uint64_t)period / scale);
    if (q > 4096 * period)
        return fail(why, ERANGE, "%s CPUs is more than 4096", s);
    if (q < 1000)
        return fail(why, ERANGE, "%s CPUs is less than 0.01", s);
    *quota_us = q;
    *period_us = period;
    return 0;
}

/* The one table of signal names (the manifest's stop_signal, the control
 * protocol's kill, the names in messages and responses). */
static const struct { const char *name; int sig; } signal_table[] = {
    { "SIGHUP", SIGHUP }, { "SIGINT", SIGINT }, { "SIGQUIT", SIGQUIT }, { "SIGILL", SIGILL },
    { "SIGTRAP", SIGTRAP }, { "SIGABRT", SIGABRT }, { "SIGBUS", SIGBUS }, { "SIGFPE", SIGFPE },
    { "SIGKILL", SIGKILL }, { "SIGUSR1", SIGUSR1 }, { "SIGSEGV", SIGSEGV }, { "SIGUSR2", SIGUSR2 },
    { "SIGPIPE", SIGPIPE }, { "SIGALRM", SIGALRM }, { "SIGTERM", SIGTERM }, { "SIGSTKFLT", SIGSTKFLT },
    { "SIGCHLD", SIGCHLD }, { "SIGCONT", SIGCONT }, { "SIGSTOP", SIGSTOP }, { "SIGTSTP", SIGTSTP },
    { "SIGTTIN", SIGTTIN }, { "SIGTTOU", SIGTTOU }, { "SIGURG", SIGURG }, { "SIGXCPU", SIGXCPU },
    { "SIGXFSZ", SIGXFSZ }, { "SIGVTALRM", SIGVTALRM }, { "SIGPROF", SIGPROF }, { "SIGWINCH", SIGWINCH },
    { "SIGIO", SIGIO }, { "SIGPWR", SIGPWR }, { "SIGSYS", SIGSYS },
};

static int signal_lookup(const char *s, bool anycase, int *out, char *why)
{
    uint64_t n;
    int (*cmp)(const char *, const char *) = anycase ? strcasecmp : strcmp;
    int (*ncmp)(const char *, const char *, size_t) = anycase ? strncasecmp : strncmp;
    if (isdigit((unsigned char)*s)) {
        if (parse_u64(s, 1, (uint64_t)SIGRTMAX, &n, NULL) < 0)
            return fail(why, EINVAL, "'%s' is not a signal number (1 to %d)", s, SIGRTMAX);
        *out = (int)n;
        return 0;
    }
    const char *name = ncmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (size_t i = 0; i < ARRAY_SIZE(signal_table); i++)
        if (cmp(name, signal_table[i].name + 3) == 0) {
            *out = signal_table[i].sig;
            return 0;
        }
    if (ncmp(name, "RTMIN", 5) == 0 || ncmp(name, "RTMAX", 5) == 0) {
        bool min = name[3] == 'I' || name[3] == 'i';
        const char *rest = name + 5;
        uint64_t off = 0;
        if (*rest) {
            if ((min && *rest != '+') || (!min && *rest != '-') ||
                parse_u64(rest + 1, 0, (uint64_t)(SIGRTMAX - SIGRTMIN), &off, NULL) < 0)
                return fail(why, EINVAL, "'%s' is not a signal", s);
        }
        *out = min ? SIGRTMIN + (int)off : SIGRTMAX - (int)off;
        return 0;
    }
    return fail(why, EINVAL, "'%s' is not a signal", s);
}

int parse_signal(const char *s, int *out, char *why)
{
    return signal_lookup(s, false, out, why);
}

int parse_signal_anycase(const char *s, int *out, char *why)
{
    return signal_lookup(s, true, out, why);
}

const char *signal_name_std(int sig)
{
    for (size_t i = 0; i < ARRAY_SIZE(signal_table); i++)
        if (signal_table[i].sig == sig)
            return signal_table[i].name;
    return NULL;
}

const char *signal_name(int sig)
{
    const char *std = signal_name_std(sig);
    if (std)
        return std;
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
        static char buf[16];
        snprintf(buf, sizeof buf, "SIGRTMIN+%d", sig - SIGRTMIN);
        return buf;
    }
    return "SIG?";
}

int parse_ipv4(const char *s, struct in_addr *out, char *why)
{
    /* inet_pton accepts exactly the dotted-quad form, no octal or short forms. */
    if (inet_pton(AF_INET, s, out) != 1)
        return fail(why, EINVAL, "'%s' is not an IPv4 address", s);
    return 0;
}

int parse_cidr(const char *s, struct in_addr *addr, unsigned *prefix, char *why)
{
    char buf[32];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof buf)
        return fail(why, EINVAL, "'%s' is not an IPv4 CIDR (a.b.c.d/len)", s);
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    uint64_t len;
    if (parse_ipv4(buf, addr, NULL) < 0 || parse_u64(slash + 1, 0, 32, &len, NULL) < 0)
        return fail(why, EINVAL, "'%s' is not an IPv4 CIDR (a.b.c.d/len)", s);
    *prefix = (unsigned)len;
    return 0;
}

int parse_ipv6(const char *s, struct in6_addr *out, char *why)
{
    if (inet_pton(AF_INET6, s, out) != 1)
        return fail(why, EINVAL, "'%s' is not an IPv6 address", s);
    return 0;
}

int parse_cidr6(const char *s, struct in6_addr *addr, unsigned *prefix, char *why)
{
    char buf[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof buf)
        return fail(why, EINVAL, "'%s' is not an IPv6 prefix (ADDRESS/len)", s);
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    uint64_t len;
    if (parse_ipv6(buf, addr, NULL) < 0 || parse_u64(slash + 1, 0, 128, &len, NULL) < 0)
        return fail(why, EINVAL, "'%s' is not an IPv6 prefix (ADDRESS/len)", s);
    *prefix = (unsigned)len;
    return 0;
}

int parse_id(const char *s, uint32_t *out, char *why)
{
    uint64_t v;
    /* (uid_t)-1 means "no change" to setuid and friends: never a valid id. */
    if (parse_u64(s, 0, UINT32_MAX - 1, &v, NULL) < 0)
        return fail(why, EINVAL, "'%s' is not a numeric id (0 to %u)", s, UINT32_MAX - 1);
    *out = (uint32_t)v;
    return 0;
}

int split_words(const char *s, char ***out, char *why)
{
    _cleanup_strv_ char **v = calloc(1, sizeof *v);
    size_t cap = strlen(s) + 1;
    _cleanup_free_ char *word = malloc(cap);
    if (!v || !word)
        return fail(why, ENOMEM, "out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (*p && *p != ' ' && *p != '\t') {
            if (*p == '\'') {
                const char *close = strchr(p + 1, '\'');
                if (!close)
                    return fail(why, EINVAL, "unterminated single quote");
                memcpy(word + n, p + 1, (size_t)(close - p - 1));
                n += (size_t)(close - p - 1);
                p = close + 1;
            } else if (*p == '"') {
                p++;
                for (;;) {
                    if (!*p)
                        return fail(why, EINVAL, "unterminated double quote");
                    if (*p == '"') {
                        p++;
                        break;
                    }
                    if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
                        p++;
                    word[n++] = *p++;
                }
            } else if (*p == '\\') {
                if (!p[1])
                    return fail(why, EINVAL, "backslash at the end");
                word[n++] = p[1];
                p += 2;
            } else {
                word[n++] = *p++;
            }
        }
        word[n] = '\0';
        if (strv_push(&v, word) < 0)
            return fail(why, ENOMEM, "out of memory");
    }
    *out = TAKE_PTR(v);
    return 0;
}

/* --- rlimit = NAME=SOFT[:HARD] ------------------------------------------------ */

static const struct { const char *name; int resource; } resources[] = {
    { "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU }, { "data", RLIMIT_DATA },
    { "fsize", RLIMIT_FSIZE }, { "locks", RLIMIT_LOCKS }, { "memlock", RLIMIT_MEMLOCK },
    { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE }, { "nofile", RLIMIT_NOFILE },
    { "nproc", RLIMIT_NPROC }, { "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
    { "rttime", RLIMIT_RTTIME }, { "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
};

const char *parse_rlimit_name(int resource)
{
    for (size_t i = 0; i < ARRAY_SIZE(resources); i++)
        if (resources[i].resource == resource)
            return resources[i].name;
    return NULL;
}

/* A decimal value or "unlimited"/"infinity" of [s, s+len). */
static int rlimit_value(const char *s, size_t len, uint64_t *out)
{
    if ((len == 9 && memcmp(s, "unlimited", 9) == 0) || (len == 8 && memcmp(s, "infinity", 8) == 0)) {
        *out = RLIM_INFINITY;
        return 0;
    }
    if (len == 0 || len > 20)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    /* RLIM_INFINITY is all ones: a number may not alias it. */
    if (v == RLIM_INFINITY)
        return -ERANGE;
    *out = v;
    return 0;
}

int parse_rlimit(const char *s, struct rlimit_spec *out, char *why)
{
    const char *eq = strchr(s, '=');
    if (!eq)
        return PARSE_FAIL(why, EINVAL, "expected NAME=SOFT[:HARD], got \"%.60s\"", s);
    size_t nl = (size_t)(eq - s);
    int resource = -1;
    for (size_t i = 0; i < ARRAY_SIZE(resources); i++)
        if (strlen(resources[i].name) == nl && memcmp(resources[i].name, s, nl) == 0)
            resource = resources[i].resource;
    if (resource < 0) {
        char name[40];
        snprintf(name, sizeof name, "%.*s", (int)(nl < 32 ? nl : 32), s);
        return PARSE_FAIL(why, EINVAL, "unknown resource \"%s\" (see rlimit in docs/manifest.md)", name);
    }
    const char *v = eq + 1, *colon = strchr(v, ':');
    size_t sl = colon ? (size_t)(colon - v) : strlen(v);
    uint64_t soft, hard;
    int r = rlimit_value(v, sl, &soft);
    if (r < 0)
        return r == -ERANGE ? PARSE_FAIL(why, ERANGE, "soft limit out of range in \"%.60s\"", s)
                            : PARSE_FAIL(why, EINVAL, "invalid soft limit in \"%.60s\" (a number or unlimited)", s);
    hard = soft;
    if (colon) {
        r = rlimit_value(colon + 1, strlen(colon + 1), &hard);
        if (r < 0)
            return r == -ERANGE ? PARSE_FAIL(why, ERANGE, "hard limit out of range in \"%.60s\"", s)
                                : PARSE_FAIL(why, EINVAL, "invalid hard limit in \"%.60s\" (a number or unlimited)", s);
    }
    /* RLIM_INFINITY is the largest value, so the comparison holds for it. */
    if (soft > hard)
        return PARSE_FAIL(why, EINVAL, "soft limit above hard limit in \"%.60s\"", s);
    out->resource = resource;
    out->soft = soft;
    out->hard = hard;
    return 0;
}

static bool env_name_char(char ch, bool first)
{
    return ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (!first && ch >= '0' && ch <= '9');
}

int parse_env_file(const char *buf, size_t len, int (*fn)(void *arg, const char *kv), void *arg, int *line,
                   char *why)
{
    *line = 0;
    if (memchr(buf, '\0', len)) {
        const char *nul = memchr(buf, '\0', len);
        for (const char *p = buf; p <= nul; p++)
            *line += p == buf || p[-1] == '\n';
        return PARSE_FAIL(why, EINVAL, "a NUL byte");
    }
    const char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (p < end) {
        ++*line;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (!eol)
            eol = end;
        if (eol > p && eol[-1] == '\r')
            eol--;
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        if (p == eol || *p == '#') {
            p = next;
            continue;
        }
        const char *eq = memchr(p, '=', (size_t)(eol - p));
        const char *name_end = eq ? eq : eol;
        int shown = name_end - p > 64 ? 64 : (int)(name_end - p);   /* of a name in a message */
        for (const char *q = p; q < name_end; q++)
            if (!env_name_char(*q, q == p))
                return PARSE_FAIL(why, EINVAL, "'%.*s' is not a variable name", shown, p);
        if (name_end == p)
            return PARSE_FAIL(why, EINVAL, "no variable name before '='");
        if (!eq)
            return PARSE_FAIL(why, EINVAL, "'%.*s' has no value (KEY=VALUE: keel takes no values from its own "
                              "environment)", shown, p);
        char *kv = strndup(p, (size_t)(eol - p));
        if (!kv)
            return -ENOMEM;
        int r = fn(arg, kv);
        free(kv);
        if (r)
            return r;
        p = next;
    }
    return 0;
}
