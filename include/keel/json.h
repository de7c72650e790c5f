/* json.h — a small JSON writer and a strict, bounded JSON reader for the
 * control protocol (docs/control.md).
 *
 * Writer: appends to a growable heap buffer.  Errors (out of memory, nesting
 * beyond JSON_MAX_DEPTH) are sticky: every later call is a no-op and
 * json_writer_error() reports -ENOMEM / -EINVAL, so callers check once at the
 * end.  Strings are escaped (quote, backslash, every control character) and
 * bytes that are not valid UTF-8 become U+FFFD, so the output is always valid
 * JSON and valid UTF-8 whatever bytes (log lines, names) go in.
 *
 * Reader: json_parse() builds a tree from untrusted input (a control request)
 * and is strict by design — it accepts exactly RFC 8259 minus what keel never
 * needs, and rejects: nesting deeper than JSON_MAX_DEPTH, more than
 * JSON_MAX_NODES values, input longer than the caller's limit, NUL bytes
 * (raw or \u0000), invalid UTF-8, lone surrogates, duplicate object keys,
 * numbers that are not integers or do not fit in int64 (with
 * JSON_PARSE_FLOAT: numbers beyond a double's range), and anything after
 * the value but whitespace.  The tree is owned by the caller and freed with
 * json_free().  Contract: 0 / negative errno with `struct kerr` filled.
 */
#ifndef KEEL_JSON_H
#define KEEL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/err.h"

#define JSON_MAX_DEPTH 16
#define JSON_MAX_NODES 4096

/* --- writer ------------------------------------------------------------- */

struct json_writer {
    char *buf;          /* NUL-terminated when non-NULL */
    size_t len, cap;
    int error;          /* sticky negative errno */
    int depth;
    uint32_t first;     /* bit d set: no element written yet at depth d */
    bool after_key;     /* a key was written; the value comes next */
};

void json_writer_init(struct json_writer *w);
void json_writer_free(struct json_writer *w);
/* Forgets the content but keeps the buffer (for reuse). */
void json_writer_reset(struct json_writer *w);
int json_writer_error(const struct json_writer *w);
/* Moves the buffer out (caller frees); *len may be NULL.  NULL on error. */
char *json_writer_take(struct json_writer *w, size_t *len);

void json_obj_begin(struct json_writer *w);
void json_obj_end(struct json_writer *w);
void json_arr_begin(struct json_writer *w);
void json_arr_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_str(struct json_writer *w, const char *s);            /* NULL writes null */
void json_strn(struct json_writer *w, const char *s, size_t n);
void json_int(struct json_writer *w, int64_t v);
void json_uint(struct json_writer *w, uint64_t v);
void json_double(struct json_writer *w, double v);              /* non-finite -> null */
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* Appends raw text (a newline between messages); not checked. */
void json_raw(struct json_writer *w, const char *s, size_t n);

/* key + value shorthands */
void json_kstr(struct json_writer *w, const char *key, const char *s);
void json_kint(struct json_writer *w, const char *key, int64_t v);
void json_kuint(struct json_writer *w, const char *key, uint64_t v);
void json_kbool(struct json_writer *w, const char *key, bool v);

/* Appends the JSON string literal of s[0..n) (quotes included) to w's buffer;
 * exposed for tests. */
void json_escape(struct json_writer *w, const char *s, size_t n);

/* --- reader ------------------------------------------------------------- */

enum json_type { JSON_NULL, JSON_BOOL, JSON_INT, JSON_DOUBLE, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_member;

struct json_value {
    enum json_type type;
    union {
        bool b;
        int64_t i;
        double d;                                              /* only with JSON_PARSE_FLOAT */
        struct { char *s; size_t len; } str;                   /* NUL-terminated, no NUL inside */
        struct { struct json_value *items; size_t n; } arr;
        struct { struct json_member *members; size_t n; } obj;
    } u;
};

struct json_member {
    char *key;
    struct json_value value;
};

/* Parses buf[0..len) (need not be NUL-terminated); len must be <= max_len;
 * at most JSON_MAX_NODES values. */
int json_parse(const char *buf, size_t len, size_t max_len, struct json_value **out, struct kerr *err);
/* The same with another bound on the number of values and flags, for
 * trusted, larger documents such as the client reading a server's `ps`. */
#define JSON_PARSE_FLOAT 0x1    /* accept fractions and exponents (JSON_DOUBLE) */
int json_parse_ex(const char *buf, size_t len, size_t max_len, size_t max_nodes, unsigned flags,
                  struct json_value **out, struct kerr *err);
void json_free(struct json_value *v);

/* Writes a parsed value back (for re-emitting a part of a document). */
void json_write_value(struct json_writer *w, const struct json_value *v);

/* Lookups on an object; NULL / false when missing or of another type. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
const char *json_get_str(const struct json_value *obj, const char *key);
bool json_get_int(const struct json_value *obj, const char *key, int64_t *out);
bool json_get_bool(const struct json_value *obj, const char *key, bool *out);
const char *json_type_name(enum json_type t);

/* Checks that bytes s[0..n) are valid UTF-8 (no overlongs, no surrogates). */
bool json_utf8_valid(const char *s, size_t n);

/* Base64 (RFC 4648, with padding) for binary payloads in strings.
 * json_base64_decode returns the decoded length or -EINVAL; out must hold
 * 3 * (n / 4) bytes. */
void json_base64(struct json_writer *w, const void *data, size_t n);   /* writes a JSON string */
long json_base64_decode(const char *s, size_t n, unsigned char *out);

#endif
