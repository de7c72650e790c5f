/* json.c — the JSON writer and the strict reader of json.h. */
#include "keel/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- writer ------------------------------------------------------------- */

void json_writer_init(struct json_writer *w)
{
    memset(w, 0, sizeof *w);
    w->first = 1;
}

void json_writer_free(struct json_writer *w)
{
    free(w->buf);
    json_writer_init(w);
}

void json_writer_reset(struct json_writer *w)
{
    char *buf = w->buf;
    size_t cap = w->cap;
    json_writer_init(w);
    w->buf = buf;
    w->cap = cap;
    if (buf)
        buf[0] = '\0';
}

int json_writer_error(const struct json_writer *w)
{
    return w->error;
}

char *json_writer_take(struct json_writer *w, size_t *len)
{
    if (w->error) {
        json_writer_free(w);
        return NULL;
    }
    if (!w->buf) {
        w->buf = calloc(1, 1);
        if (!w->buf)
            return NULL;
    }
    char *b = w->buf;
    if (len)
        *len = w->len;
    w->buf = NULL;
    json_writer_init(w);
    return b;
}

static bool reserve(struct json_writer *w, size_t extra)
{
    if (w->error)
        return false;
    if (extra > SIZE_MAX / 2 - w->len) {
        w->error = -ENOMEM;
        return false;
    }
    size_t need = w->len + extra + 1;
    if (need <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap *= 2;
    char *nb = realloc(w->buf, cap);
    if (!nb) {
        w->error = -ENOMEM;
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

static void put(struct json_writer *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void putc_(struct json_writer *w, char c)
{
    put(w, &c, 1);
}

void json_raw(struct json_writer *w, const char *s, size_t n)
{
    put(w, s, n);
}

/* The separator before a value or key at the current depth. */
static void prefix(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    uint32_t bit = 1u << w->depth;
    if (w->first & bit)
        w->first &= ~bit;
    else
        putc_(w, ',');
}

static void open_(struct json_writer *w, char c)
{
    prefix(w);
    putc_(w, c);
    if (w->depth + 1 >= 32 || w->depth + 1 > JSON_MAX_DEPTH) {
        if (!w->error)
            w->error = -EINVAL;
        return;
    }
    w->depth++;
    w->first |= 1u << w->depth;
}

static void close_(struct json_writer *w, char c)
{
    if (w->depth <= 0) {
        if (!w->error)
            w->error = -EINVAL;
        return;
    }
    w->depth--;
    putc_(w, c);
}

void json_obj_begin(struct json_writer *w) { open_(w, '{'); }
void json_obj_end(struct json_writer *w) { close_(w, '}'); }
void json_arr_begin(struct json_writer *w) { open_(w, '['); }
void json_arr_end(struct json_writer *w) { close_(w, ']'); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid:
 * overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return len;
}

bool json_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = utf8_seq(p + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

void json_escape(struct json_writer *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    putc_(w, '"');
    size_t i = 0;
    while (i < n && !w->error) {
        /* Copy the longest run that needs no escaping in one go. */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            put(w, (const char *)s + i, run - i);
            i = run;
            continue;
        }
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t l = utf8_seq(s + i, n - i);
            if (l) {
                put(w, (const char *)s + i, l);
                i += l;
            } else {
                put(w, "\xef\xbf\xbd", 3);   /* U+FFFD for each invalid byte */
                i++;
            }
            continue;
        }
        char esc[7];
        switch (c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        default:
            esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15], esc[6] = 0;
            put(w, esc, 6);
        }
        i++;
    }
    putc_(w, '"');
}

void json_key(struct json_writer *w, const char *key)
{
    prefix(w);
    json_escape(w, key, strlen(key));
    putc_(w, ':');
    w->after_key = true;
}

void json_strn(struct json_writer *w, const char *s, size_t n)
{
    prefix(w);
    json_escape(w, s, n);
}

void json_str(struct json_writer *w, const char *s)
{
    if (!s) {
        json_null(w);
        return;
    }
    json_strn(w, s, strlen(s));
}

void json_int(struct json_writer *w, int64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    prefix(w);
    put(w, b, (size_t)n);
}

void json_uint(struct json_writer *w, uint64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%" PRIu64, v);
    prefix(w);
    put(w, b, (size_t)n);
}

void json_double(struct json_writer *w, double v)
{
    if (!isfinite(v)) {
        json_null(w);
        return;
    }
    char b[64];
    int n = snprintf(b, sizeof b, "%.6g", v);
    prefix(w);
    put(w, b, (size_t)n);
}

void json_bool(struct json_writer *w, bool v)
{
    prefix(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json_writer *w)
{
    prefix(w);
    put(w, "null", 4);
}

void json_kstr(struct json_writer *w, const char *key, const char *s) { json_key(w, key); json_str(w, s); }
void json_kint(struct json_writer *w, const char *key, int64_t v) { json_key(w, key); json_int(w, v); }
void json_kuint(struct json_writer *w, const char *key, uint64_t v) { json_key(w, key); json_uint(w, v); }
void json_kbool(struct json_writer *w, const char *key, bool v) { json_key(w, key); json_bool(w, v); }

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void json_base64(struct json_writer *w, const void *data, size_t n)
{
    const unsigned char *d = data;
    prefix(w);
    if (n > SIZE_MAX / 2 || !reserve(w, (n + 2) / 3 * 4 + 2))
        return;
    char *o = w->buf + w->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *o++ = b64[v >> 18], *o++ = b64[(v >> 12) & 63], *o++ = b64[(v >> 6) & 63], *o++ = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)d[i] << 16;
        *o++ = b64[v >> 18], *o++ = b64[(v >> 12) & 63], *o++ = '=', *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8;
        *o++ = b64[v >> 18], *o++ = b64[(v >> 12) & 63], *o++ = b64[(v >> 6) & 63], *o++ = '=';
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long json_base64_decode(const char *s, size_t n, unsigned char *out)
{
    if (n % 4)
        return -EINVAL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int a = b64val(s[i]), b = b64val(s[i + 1]);
        int c = s[i + 2] == '=' && last ? -2 : b64val(s[i + 2]);
        int d = s[i + 3] == '=' && last ? -2 : b64val(s[i + 3]);
        if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2))
            return -EINVAL;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        if (c >= 0)
            out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
        if (d >= 0)
            out[o++] = (unsigned char)((c & 3) << 6 | d);
    }
    return (long)o;
}

/* --- reader ------------------------------------------------------------- */

#define JSON_MAX_MEMBERS 1024

struct parser {
    const char *start, *p, *end;
    size_t nodes, max_nodes;
    unsigned flags;
    struct kerr *err;
};

static int perr(struct parser *ps, const char *why)
{
    return kerr_msg(ps->err, EINVAL, "invalid JSON at byte %zu: %s", (size_t)(ps->p - ps->start), why);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static void free_value(struct json_value *v)
{
    switch (v->type) {
    case JSON_STRING:
        free(v->u.str.s);
        break;
    case JSON_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            free_value(&v->u.arr.items[i]);
        free(v->u.arr.items);
        break;
    case JSON_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            free(v->u.obj.members[i].key);
            free_value(&v->u.obj.members[i].value);
        }
        free(v->u.obj.members);
        break;
    default:
        break;
    }
    v->type = JSON_NULL;
}

void json_free(struct json_value *v)
{
    if (!v)
        return;
    free_value(v);
    free(v);
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ps->p is at the opening quote.  The decoded string is never longer than
 * its source, which bounds the allocation by the input. */
static int parse_string(struct parser *ps, char **out, size_t *outlen)
{
    ps->p++;
    const char *q = ps->p;
    while (q < ps->end && *q != '"') {
        if (*q == '\\' && q + 1 < ps->end)
            q++;
        q++;
    }
    if (q >= ps->end)
        return perr(ps, "unterminated string");
    char *s = malloc((size_t)(q - ps->p) + 1);
    if (!s)
        return kerr_set(ps->err, ENOMEM, "cannot parse JSON");
    size_t o = 0;
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c == 0) {
            free(s);
            return perr(ps, "NUL byte in string");
        }
        if (c < 0x20) {
            free(s);
            return perr(ps, "control character in string");
        }
        if (c >= 0x80) {
            size_t l = utf8_seq((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
            if (!l) {
                free(s);
                return perr(ps, "invalid UTF-8 in string");
            }
            memcpy(s + o, ps->p, l);
            o += l, ps->p += l;
            continue;
        }
        if (c != '\\') {
            s[o++] = (char)c;
            ps->p++;
            continue;
        }
        ps->p++;
        char e = *ps->p++;
        switch (e) {
        case '"': s[o++] = '"'; break;
        case '\\': s[o++] = '\\'; break;
        case '/': s[o++] = '/'; break;
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0) {
                free(s);
                return perr(ps, "bad \\u escape");
            }
            ps->p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                free(s);
                return perr(ps, "lone low surrogate");
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) < 0 ||
                    lo < 0xdc00 || lo > 0xdfff) {
                    free(s);
                    return perr(ps, "lone high surrogate");
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0) {
                free(s);
                return perr(ps, "NUL character in string");
            }
            o += utf8_put(s + o, cp);
            break;
        }
        default:
            ps->p--;
            free(s);
            return perr(ps, "bad escape");
        }
    }
    ps->p++;   /* closing quote */
    s[o] = '\0';
    *out = s;
    *outlen = o;
    return 0;
}

static bool is_digit(const struct parser *ps)
{
    return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* After the integer part: [.digits][(e|E)[+-]digits], then strtod on a copy. */
static int parse_float(struct parser *ps, const char *start, struct json_value *v)
{
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (!is_digit(ps))
            return perr(ps, "bad fraction");
        while (is_digit(ps))
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!is_digit(ps))
            return perr(ps, "bad exponent");
        while (is_digit(ps))
            ps->p++;
    }
    char tmp[64];
    size_t n = (size_t)(ps->p - start);
    if (n >= sizeof tmp)
        return perr(ps, "number too long");
    memcpy(tmp, start, n);
    tmp[n] = 0;
    double d = strtod(tmp, NULL);
    /* As an integer past int64: a number past a double's range is refused,
     * not read as infinity (which no JSON writer can give back: null). */
    if (!isfinite(d))
        return perr(ps, "number out of range");
    v->type = JSON_DOUBLE;
    v->u.d = d;
    return 0;
}

static int parse_number(struct parser *ps, struct json_value *v)
{
    const char *start = ps->p;
    bool neg = false;
    if (*ps->p == '-') {
        neg = true;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return perr(ps, "bad number");
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
        return perr(ps, "leading zero in number");
    uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        unsigned d = (unsigned)(*ps->p - '0');
        if (acc > (limit - d) / 10)
            return perr(ps, "integer out of range");
        acc = acc * 10 + d;
        ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')) {
        if (!(ps->flags & JSON_PARSE_FLOAT))
            return perr(ps, "only integers are accepted");
        return parse_float(ps, start, v);
    }
    v->type = JSON_INT;
    v->u.i = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    return 0;
}

static int parse_value(struct parser *ps, struct json_value *v, int depth);

static int parse_array(struct parser *ps, struct json_value *v, int depth)
{
    ps->p++;
    v->type = JSON_ARRAY;
    v->u.arr.items = NULL;
    v->u.arr.n = 0;
    size_t cap = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (v->u.arr.n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            struct json_value *ni = realloc(v->u.arr.items, nc * sizeof *ni);
            if (!ni)
                return kerr_set(ps->err, ENOMEM, "cannot parse JSON");
            v->u.arr.items = ni;
            cap = nc;
        }
        struct json_value *item = &v->u.arr.items[v->u.arr.n];
        item->type = JSON_NULL;
        int r = parse_value(ps, item, depth + 1);
        if (r < 0) {
            free_value(item);
            return r;
        }
        v->u.arr.n++;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return perr(ps, "unterminated array");
        if (*ps->p == ']') {
            ps->p++;
            return 0;
        }
        if (*ps->p != ',')
            return perr(ps, "expected ',' or ']'");
        ps->p++;
    }
}

static int parse_object(struct parser *ps, struct json_value *v, int depth)
{
    ps->p++;
    v->type = JSON_OBJECT;
    v->u.obj.members = NULL;
    v->u.obj.n = 0;
    size_t cap = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"')
            return perr(ps, "expected a string key");
        if (v->u.obj.n >= JSON_MAX_MEMBERS)
            return perr(ps, "too many members in object");
        char *key;
        size_t klen;
        const char *key_at = ps->p;
        int r = parse_string(ps, &key, &klen);
        if (r < 0)
            return r;
        for (size_t i = 0; i < v->u.obj.n; i++)
            if (strcmp(v->u.obj.members[i].key, key) == 0) {
                free(key);
                ps->p = key_at;
                return perr(ps, "duplicate key");
            }
        if (v->u.obj.n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            struct json_member *nm = realloc(v->u.obj.members, nc * sizeof *nm);
            if (!nm) {
                free(key);
                return kerr_set(ps->err, ENOMEM, "cannot parse JSON");
            }
            v->u.obj.members = nm;
            cap = nc;
        }
        struct json_member *m = &v->u.obj.members[v->u.obj.n];
        m->key = key;
        m->value.type = JSON_NULL;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            free(key);
            return perr(ps, "expected ':'");
        }
        ps->p++;
        r = parse_value(ps, &m->value, depth + 1);
        if (r < 0) {
            free(key);
            free_value(&m->value);
            return r;
        }
        v->u.obj.n++;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return perr(ps, "unterminated object");
        if (*ps->p == '}') {
            ps->p++;
            return 0;
        }
        if (*ps->p != ',')
            return perr(ps, "expected ',' or '}'");
        ps->p++;
    }
}

static int literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return perr(ps, "unexpected character");
    ps->p += n;
    return 0;
}

static int parse_value(struct parser *ps, struct json_value *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return perr(ps, "nesting too deep");
    if (++ps->nodes > ps->max_nodes)
        return perr(ps, "too many values");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return perr(ps, "unexpected end of input");
    int r;
    switch (*ps->p) {
    case '{':
        return parse_object(ps, v, depth);
    case '[':
        return parse_array(ps, v, depth);
    case '"':
        r = parse_string(ps, &v->u.str.s, &v->u.str.len);
        if (r == 0)
            v->type = JSON_STRING;
        return r;
    case 't':
        if ((r = literal(ps, "true")) < 0)
            return r;
        v->type = JSON_BOOL, v->u.b = true;
        return 0;
    case 'f':
        if ((r = literal(ps, "false")) < 0)
            return r;
        v->type = JSON_BOOL, v->u.b = false;
        return 0;
    case 'n':
        if ((r = literal(ps, "null")) < 0)
            return r;
        v->type = JSON_NULL;
        return 0;
    case '\0':
        return perr(ps, "NUL byte");
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps, v);
        return perr(ps, "unexpected character");
    }
}

int json_parse(const char *buf, size_t len, size_t max_len, struct json_value **out, struct kerr *err)
{
    return json_parse_ex(buf, len, max_len, JSON_MAX_NODES, 0, out, err);
}

int json_parse_ex(const char *buf, size_t len, size_t max_len, size_t max_nodes, unsigned flags,
                  struct json_value **out, struct kerr *err)
{
    *out = NULL;
    if (len > max_len)
        return kerr_msg(err, EMSGSIZE, "invalid JSON: %zu bytes exceed the limit of %zu", len, max_len);
    /* A raw NUL anywhere (even in whitespace) is refused up front. */
    if (memchr(buf, '\0', len)) {
        size_t at = (size_t)((const char *)memchr(buf, '\0', len) - buf);
        return kerr_msg(err, EINVAL, "invalid JSON at byte %zu: NUL byte", at);
    }
    struct parser ps = { .start = buf, .p = buf, .end = buf + len, .max_nodes = max_nodes, .flags = flags, .err = err };
    struct json_value *v = calloc(1, sizeof *v);
    if (!v)
        return kerr_set(err, ENOMEM, "cannot parse JSON");
    int r = parse_value(&ps, v, 1);
    if (r == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            r = perr(&ps, "trailing characters after the value");
    }
    if (r < 0) {
        json_free(v);
        return r;
    }
    *out = v;
    return 0;
}

void json_write_value(struct json_writer *w, const struct json_value *v)
{
    switch (v->type) {
    case JSON_NULL: json_null(w); break;
    case JSON_BOOL: json_bool(w, v->u.b); break;
    case JSON_INT: json_int(w, v->u.i); break;
    case JSON_DOUBLE: json_double(w, v->u.d); break;
    case JSON_STRING: json_strn(w, v->u.str.s, v->u.str.len); break;
    case JSON_ARRAY:
        json_arr_begin(w);
        for (size_t i = 0; i < v->u.arr.n; i++)
            json_write_value(w, &v->u.arr.items[i]);
        json_arr_end(w);
        break;
    case JSON_OBJECT:
        json_obj_begin(w);
        for (size_t i = 0; i < v->u.obj.n; i++) {
            json_key(w, v->u.obj.members[i].key);
            json_write_value(w, &v->u.obj.members[i].value);
        }
        json_obj_end(w);
        break;
    }
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->u.obj.n; i++)
        if (strcmp(obj->u.obj.members[i].key, key) == 0)
            return &obj->u.obj.members[i].value;
    return NULL;
}

const char *json_get_str(const struct json_value *obj, const char *key)
{
    const struct json_value *v = json_get(obj, key);
    return v && v->type == JSON_STRING ? v->u.str.s : NULL;
}

bool json_get_int(const struct json_value *obj, const char *key, int64_t *out)
{
    const struct json_value *v = json_get(obj, key);
    if (!v || v->type != JSON_INT)
        return false;
    *out = v->u.i;
    return true;
}

bool json_get_bool(const struct json_value *obj, const char *key, bool *out)
{
    const struct json_value *v = json_get(obj, key);
    if (!v || v->type != JSON_BOOL)
        return false;
    *out = v->u.b;
    return true;
}

const char *json_type_name(enum json_type t)
{
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_INT: return "integer";
    case JSON_DOUBLE: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "?";
}
