/* parse.h — pure parsers for the value types of the manifest, the CLI and the
 * control protocol.  No I/O, no allocation except where a result is a string
 * or vector (then the caller owns it).  Each returns 0 on success or
 * -EINVAL / -ERANGE, and on failure writes a short reason into `why`
 * (a caller-owned buffer of PARSE_WHY_MAX bytes) when `why` is not NULL.
 */
#ifndef KEEL_PARSE_H
#define KEEL_PARSE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PARSE_WHY_MAX 160
#define KEEL_NAME_MAX 32          /* container and network names */

#define KEEL_LIMIT_UNSET (-1)     /* an int64 limit not given in the manifest */
#define KEEL_LIMIT_MAX INT64_MAX  /* the literal "max" */

/* For every parser of the manifest's values: writes the reason into `why`
 * (when not NULL).  PARSE_FAIL records it and yields -code; a macro so that
 * the negative result is visible at each return (static analyzers do not
 * follow calls into variadic functions). */
void parse_set_why(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define PARSE_FAIL(why, code, ...) (parse_set_why((why), __VA_ARGS__), -(code))

/* Unsigned decimal in [min, max]; no sign, no spaces, no suffix. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why);
/* Signed decimal in [min, max]. */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out, char *why);
/* yes/no, true/false, on/off, 1/0. */
int parse_bool(const char *s, bool *out, char *why);
/* Size in bytes with optional K, M, G, T suffix (powers of 1024; "KiB" and "KB"
 * accepted as the same), or "max" (KEEL_LIMIT_MAX). */
int parse_size(const char *s, int64_t *out, char *why);
/* Duration: a number with ms, s, m or h suffix; a bare number means seconds. */
int parse_duration_ms(const char *s, uint64_t *out_ms, char *why);
/* Network rate: number with optional k/m/g + "bit" or "bps" (bytes) suffix; result bits/s. */
int parse_rate_bits(const char *s, uint64_t *out, char *why);
/* CPUs as a decimal fraction ("0.5", "2") -> cpu.max quota for a 100 ms period. */
int parse_cpus(const char *s, int64_t *quota_us, int64_t *period_us, char *why);
/* Signal by name (SIGTERM, TERM, RTMIN+3, RTMAX-1) or number 1..SIGRTMAX;
 * the manifest's names are upper case, the control protocol's any case
 * ("term", "sigkill"). */
int parse_signal(const char *s, int *out, char *why);
int parse_signal_anycase(const char *s, int *out, char *why);
/* "SIGTERM"; real-time signals "SIGRTMIN+N"; "SIG?" for unknown.  The
 * string may be static storage overwritten by the next call. */
const char *signal_name(int sig);
/* "SIGTERM" for the 31 standard signals only (a static string), else NULL. */
const char *signal_name_std(int sig);
/* Dotted IPv4 address, and CIDR "a.b.c.d/len". */
int parse_ipv4(const char *s, struct in_addr *out, char *why);
int parse_cidr(const char *s, struct in_addr *addr, unsigned *prefix, char *why);
/* IPv6: inet_pton's forms; a prefix ADDRESS/0..128. */
int parse_ipv6(const char *s, struct in6_addr *out, char *why);
int parse_cidr6(const char *s, struct in6_addr *addr, unsigned *prefix, char *why);
/* uid / gid: decimal 0..2^32-2, nothing else (no sign, no blanks). */
int parse_id(const char *s, uint32_t *out, char *why);

/* `rlimit = NAME=SOFT[:HARD]`: NAME is the lower-case resource without
 * RLIMIT_ (nofile, nproc, core, memlock, stack, ...); SOFT and HARD are
 * decimal numbers or "unlimited" (also "infinity": RLIM_INFINITY); HARD
 * defaults to SOFT; SOFT <= HARD.  -EINVAL / -ERANGE.  `line` is the
 * caller's (the manifest's line of the key); applying is rlimit.h's. */
struct rlimit_spec {
    int resource;          /* RLIMIT_* */
    uint64_t soft, hard;   /* RLIM_INFINITY for "unlimited" */
    int line;
};
int parse_rlimit(const char *s, struct rlimit_spec *out, char *why);
/* What a container gets without `rlimit = nofile=...` (rlimit.h says why;
 * the key table prints them as the key's default). */
#define RLIMIT_DEFAULT_NOFILE_SOFT 1024
#define RLIMIT_DEFAULT_NOFILE_HARD 524288
/* "nofile" for RLIMIT_NOFILE; NULL for an unknown resource. */
const char *parse_rlimit_name(int resource);

/* Splits like a POSIX shell splits words: blanks separate, single quotes are
 * literal, double quotes allow \" \\ \$ \`, backslash escapes outside quotes.
 * No expansion of any kind.  *out is a new NULL-terminated vector. */
int split_words(const char *s, char ***out, char *why);

/* An environment file (`env_file =`), Docker's --env-file syntax: one
 * KEY=VALUE per line; leading blanks (space, tab) are dropped; blank lines
 * and lines whose first other character is '#' are skipped; the VALUE is the
 * rest of the line as it is (no quotes removed, trailing blanks kept); a
 * trailing CR and a UTF-8 byte-order mark at the start are dropped.  KEY is
 * [A-Za-z_][A-Za-z0-9_]* (as `env =`).  Unlike Docker, a bare KEY (no '=')
 * is an error: an appliance's keel has no client environment to take it
 * from.  A NUL byte is an error.  For each variable, in order, FN(ARG, "KEY=VALUE")
 * (a temporary string); a non-zero return stops the parse and is returned.
 * Returns 0, -EINVAL with *LINE (1-based) and WHY set, -ENOMEM, or FN's result. */
int parse_env_file(const char *buf, size_t len, int (*fn)(void *arg, const char *kv), void *arg, int *line,
                   char *why);

#endif
