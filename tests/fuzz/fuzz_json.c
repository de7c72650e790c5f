/* fuzz_json.c — the JSON reader as the readers of untrusted documents call
 * it beyond the control target's json_parse: `keel import` reads an image's
 * index.json, manifests and config with json_parse_ex(JSON_PARSE_FLOAT) and
 * large bounds, and `keel` reads a (possibly remote) server's responses the
 * same way; plus the base64 decoder of control requests' data (exec stdin,
 * cp_put, update chunks) and the UTF-8 check.
 *
 * fuzz-requires: src/json.c
 *
 * Input: the first byte picks the flags (bit 0: JSON_PARSE_FLOAT) and a
 * small node bound; the rest is the document, also a base64 text and a
 * byte string for json_utf8_valid.
 *
 * Invariants beyond "no crash, no leak, no read past the document": an
 * accepted tree nests at most JSON_MAX_DEPTH values deep, holds at most the
 * node bound, has no object with two equal keys, strings and keys of valid
 * UTF-8 without NUL (a string's len is its strlen), doubles only with
 * JSON_PARSE_FLOAT and only finite ones; it writes back (json_write_value)
 * without a writer error into text that parses again and writes back into
 * the same text (with doubles: after one more trip, "%.6g" turning an
 * integral one into an integer); a document accepted without
 * JSON_PARSE_FLOAT is accepted with it into the same text; a document over
 * max_len is refused with EMSGSIZE.  base64: refused unless its length is a multiple of 4; a
 * decoded length fits 3 * (n / 4) and is at most 2 short of it; the bytes
 * encode and decode back to themselves.  json_utf8_valid agrees with RFC
 * 3629's table.
 */
#include "fuzz.h"

#include <errno.h>
#include <math.h>

#include "keel/json.h"

static size_t count(const struct json_value *v, int depth)
{
    FUZZ_ASSERT(depth <= JSON_MAX_DEPTH);
    size_t n = 1;
    switch (v->type) {
    case JSON_STRING:
        FUZZ_ASSERT(v->u.str.s && strlen(v->u.str.s) == v->u.str.len);
        FUZZ_ASSERT(json_utf8_valid(v->u.str.s, v->u.str.len));
        break;
    case JSON_DOUBLE:
        FUZZ_ASSERT(isfinite(v->u.d));
        break;
    case JSON_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            n += count(&v->u.arr.items[i], depth + 1);
        break;
    case JSON_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            const char *k = v->u.obj.members[i].key;
            FUZZ_ASSERT(k && json_utf8_valid(k, strlen(k)));
            for (size_t j = 0; j < i; j++)
                FUZZ_ASSERT(strcmp(v->u.obj.members[j].key, k) != 0);
            n += count(&v->u.obj.members[i].value, depth + 1);
        }
        break;
    default:
        break;
    }
    return n;
}

static bool has_double(const struct json_value *v)
{
    if (v->type == JSON_DOUBLE)
        return true;
    for (size_t i = 0; v->type == JSON_ARRAY && i < v->u.arr.n; i++)
        if (has_double(&v->u.arr.items[i]))
            return true;
    for (size_t i = 0; v->type == JSON_OBJECT && i < v->u.obj.n; i++)
        if (has_double(&v->u.obj.members[i].value))
            return true;
    return false;
}

/* The text of v, written back (heap; the writer must not fail). */
static char *write_back(const struct json_value *v, size_t *len)
{
    struct json_writer w;
    json_writer_init(&w);
    json_write_value(&w, v);
    FUZZ_ASSERT(json_writer_error(&w) == 0);
    char *s = json_writer_take(&w, len);
    FUZZ_ASSERT(s != NULL);
    return s;
}

/* Written text that must parse again: its own written text. */
static char *reparse(const char *t, size_t len, unsigned flags, size_t max_nodes)
{
    struct json_value *v = NULL;
    struct kerr err = { 0 };
    FUZZ_ASSERT(json_parse_ex(t, len, 4u << 20, max_nodes, flags, &v, &err) == 0);
    size_t l;
    char *s = write_back(v, &l);
    json_free(v);
    return s;
}

/* Parses doc with `flags`; when accepted, checks the tree and its round
 * trip and returns its written text (heap), else NULL. */
static char *parse_checked(const char *doc, size_t len, unsigned flags, size_t max_nodes)
{
    struct json_value *v = NULL;
    struct kerr err = { 0 };
    int r = json_parse_ex(doc, len, 4u << 20, max_nodes, flags, &v, &err);
    if (r < 0) {
        FUZZ_ASSERT(v == NULL && err.msg[0] != '\0');
        FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
        return NULL;
    }
    FUZZ_ASSERT(v != NULL);
    FUZZ_ASSERT(count(v, 1) <= max_nodes);
    if (!(flags & JSON_PARSE_FLOAT))
        FUZZ_ASSERT(!has_double(v));
    bool doubles = has_double(v);
    size_t l1;
    char *t1 = write_back(v, &l1);
    json_free(v);
    char *t2 = reparse(t1, l1, flags, max_nodes);
    if (doubles) {
        /* A double is written "%.6g": an integral one comes back as an
         * integer (-0 as 0), so the text settles after one more trip. */
        char *t3 = reparse(t2, strlen(t2), flags, max_nodes);
        FUZZ_ASSERT(strcmp(t2, t3) == 0);
        free(t3);
    } else {
        FUZZ_ASSERT(strcmp(t1, t2) == 0);
    }
    free(t2);
    return t1;
}

static void check_json(const char *doc, size_t len, uint8_t mode)
{
    unsigned flags = mode & 1 ? JSON_PARSE_FLOAT : 0;
    char *t = parse_checked(doc, len, flags, 200000);
    if (t && !flags) {
        char *tf = parse_checked(doc, len, JSON_PARSE_FLOAT, 200000);
        FUZZ_ASSERT(tf != NULL && strcmp(t, tf) == 0);
        free(tf);
    }
    free(t);
    free(parse_checked(doc, len, flags, (size_t)(mode >> 1) + 1));
    if (len) {
        struct json_value *v = NULL;
        struct kerr err = { 0 };
        FUZZ_ASSERT(json_parse_ex(doc, len, len - 1, 200000, flags, &v, &err) == -EMSGSIZE && v == NULL);
    }
}

static void check_base64(const char *s, size_t n)
{
    unsigned char *out = malloc(3 * (n / 4) + 1);
    FUZZ_ASSERT(out != NULL);
    long r = json_base64_decode(s, n, out);
    if (n % 4)
        FUZZ_ASSERT(r == -EINVAL);
    if (r >= 0) {
        FUZZ_ASSERT((size_t)r <= 3 * (n / 4) && (size_t)r + 2 >= 3 * (n / 4));
        struct json_writer w;
        json_writer_init(&w);
        json_base64(&w, out, (size_t)r);
        FUZZ_ASSERT(!json_writer_error(&w) && w.len >= 2 && w.buf[0] == '"' && w.buf[w.len - 1] == '"');
        unsigned char *back = malloc(3 * ((w.len - 2) / 4) + 1);
        FUZZ_ASSERT(back != NULL);
        FUZZ_ASSERT(json_base64_decode(w.buf + 1, w.len - 2, back) == r && memcmp(back, out, (size_t)r) == 0);
        free(back);
        json_writer_free(&w);
    }
    free(out);
}

/* RFC 3629's table of well-formed sequences. */
static bool utf8_ref(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80                  ? 1
                     : c >= 0xc2 && c <= 0xdf ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        if (!len || n - i < len)
            return false;
        unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        if (len > 1 && (s[i + 1] < lo || s[i + 1] > hi))
            return false;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += len;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t len = size - 1;
    /* Exactly len bytes: a read past the document is caught. */
    char *doc = fuzz_exact(data + 1, len);
    check_json(doc, len, mode);
    check_base64(doc, len);
    FUZZ_ASSERT(json_utf8_valid(doc, len) == utf8_ref((const unsigned char *)doc, len));
    free(doc);
    return 0;
}
