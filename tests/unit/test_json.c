/* test_json.c — the JSON writer and the strict reader. */
#include "keel/json.h"
#include "keel/util.h"

#include <errno.h>
#include <stdlib.h>

#include "unit.h"

static char *render(void (*fn)(struct json_writer *))
{
    struct json_writer w;
    json_writer_init(&w);
    fn(&w);
    return json_writer_take(&w, NULL);
}

static void w_nested(struct json_writer *w)
{
    json_obj_begin(w);
    json_kint(w, "keel", 1);
    json_kbool(w, "ok", true);
    json_key(w, "list");
    json_arr_begin(w);
    json_str(w, "a");
    json_int(w, -5);
    json_obj_begin(w);
    json_obj_end(w);
    json_arr_begin(w);
    json_arr_end(w);
    json_null(w);
    json_arr_end(w);
    json_kstr(w, "n", NULL);
    json_kuint(w, "big", UINT64_MAX);
    json_obj_end(w);
}

TEST(writer_structure)
{
    char *s = render(w_nested);
    CHECK_STR(s, "{\"keel\":1,\"ok\":true,\"list\":[\"a\",-5,{},[],null],\"n\":null,"
                 "\"big\":18446744073709551615}");
    free(s);
}

static char *esc(const char *in, size_t n)
{
    struct json_writer w;
    json_writer_init(&w);
    json_strn(&w, in, n);
    return json_writer_take(&w, NULL);
}

TEST(writer_escaping)
{
    char *s = esc("a\"b\\c\n\t\r\b\f\x01\x1f\x7f/", 14);
    CHECK_STR(s, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f/\"");
    free(s);
    /* An embedded NUL is escaped, never truncates. */
    s = esc("x\0y", 3);
    CHECK_STR(s, "\"x\\u0000y\"");
    free(s);
    /* Valid UTF-8 passes through. */
    s = esc("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12);
    CHECK_STR(s, "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    free(s);
    /* Invalid bytes, overlongs, surrogates and truncated sequences become U+FFFD. */
    s = esc("\xff" "a" "\xc0\xaf" "\xed\xa0\x80" "\xe2\x82", 9);
    CHECK_STR(s, "\"\xef\xbf\xbd" "a" "\xef\xbf\xbd\xef\xbf\xbd" "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                 "\xef\xbf\xbd\xef\xbf\xbd\"");
    free(s);
}

TEST(writer_output_always_parses)
{
    /* Whatever bytes go in, the writer's output is accepted by the reader
     * and round-trips valid input exactly. */
    char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (char)i;
    struct json_writer w;
    json_writer_init(&w);
    json_obj_begin(&w);
    json_key(&w, "all");
    json_strn(&w, bytes + 1, sizeof bytes - 1);   /* \u0000 is refused by the reader */
    json_key(&w, "ascii");
    json_strn(&w, bytes + 1, 127);
    json_obj_end(&w);
    size_t len;
    char *s = json_writer_take(&w, &len);
    CHECK(s != NULL);
    struct json_value *v = NULL;
    struct kerr err = { 0 };
    CHECK_INT(json_parse(s, len, 1 << 20, &v, &err), 0);
    const struct json_value *a = json_get(v, "ascii");
    CHECK(a && a->type == JSON_STRING && a->u.str.len == 127 && memcmp(a->u.str.s, bytes + 1, 127) == 0);
    CHECK(json_get_str(v, "all") != NULL);
    json_free(v);
    free(s);
}

TEST(writer_depth_limit_is_sticky)
{
    struct json_writer w;
    json_writer_init(&w);
    for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
        json_arr_begin(&w);
    CHECK_INT(json_writer_error(&w), -EINVAL);
    CHECK(json_writer_take(&w, NULL) == NULL);
    json_writer_init(&w);
    json_obj_end(&w);   /* unbalanced */
    CHECK_INT(json_writer_error(&w), -EINVAL);
    json_writer_free(&w);
}

TEST(writer_reset_reuses)
{
    struct json_writer w;
    json_writer_init(&w);
    json_obj_begin(&w);
    json_kint(&w, "a", 1);
    json_obj_end(&w);
    json_writer_reset(&w);
    json_obj_begin(&w);
    json_kint(&w, "b", 2);
    json_kint(&w, "c", 3);
    json_obj_end(&w);
    CHECK_STR(w.buf, "{\"b\":2,\"c\":3}");
    json_writer_free(&w);
}

static int parse(const char *s, struct json_value **v, struct kerr *err)
{
    return json_parse(s, strlen(s), 65536, v, err);
}

TEST(reader_accepts)
{
    struct json_value *v = NULL;
    struct kerr err = { 0 };
    CHECK_INT(parse(" {\"op\":\"exec\",\"name\":\"web\",\"argv\":[\"/bin/sh\",\"-c\",\"echo hi\"],"
                    "\"tty\":false,\"n\":-9223372036854775808,\"m\":9223372036854775807,\"z\":null,"
                    "\"e\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"} \r\n", &v, &err), 0);
    CHECK_STR(json_get_str(v, "op"), "exec");
    CHECK_STR(json_get_str(v, "name"), "web");
    const struct json_value *a = json_get(v, "argv");
    CHECK(a && a->type == JSON_ARRAY && a->u.arr.n == 3);
    if (a && a->u.arr.n == 3)
        CHECK_STR(a->u.arr.items[2].u.str.s, "echo hi");
    bool b = true;
    CHECK(json_get_bool(v, "tty", &b) && !b);
    int64_t i;
    CHECK(json_get_int(v, "n", &i) && i == INT64_MIN);
    CHECK(json_get_int(v, "m", &i) && i == INT64_MAX);
    CHECK(json_get(v, "z") && json_get(v, "z")->type == JSON_NULL);
    CHECK_STR(json_get_str(v, "e"), "\xc3\xa9\xf0\x9f\x98\x80\"\\/\b\f\n\r\t");
    CHECK(json_get_str(v, "missing") == NULL);
    CHECK(!json_get_int(v, "op", &i));    /* wrong type */
    json_free(v);

    CHECK_INT(parse("[]", &v, &err), 0);
    json_free(v);
    CHECK_INT(parse("\"x\"", &v, &err), 0);
    json_free(v);
    CHECK_INT(parse("0", &v, &err), 0);
    json_free(v);
}

TEST(reader_rejects)
{
    static const struct { const char *in; size_t len; } bad[] = {
#define B(s) { s, sizeof(s) - 1 }
        B(""), B("   "), B("{"), B("}"), B("{\"a\"}"), B("{\"a\":}"), B("{\"a\":1,}"), B("[1,]"),
        B("{\"a\":1}x"), B("{\"a\":1}{}"), B("{\"a\":1} 1"), B("{a:1}"), B("{'a':1}"),
        B("{\"a\":1,\"a\":2}"),                       /* duplicate key */
        B("{\"a\":1.5}"), B("{\"a\":1e3}"), B("{\"a\":01}"), B("{\"a\":-}"), B("{\"a\":+1}"),
        B("{\"a\":9223372036854775808}"), B("{\"a\":-9223372036854775809}"),
        B("{\"a\":99999999999999999999999}"),
        B("{\"a\":\"x\0y\"}"), B("{\"a\":1}\0"), B("\0"),  /* NUL bytes */
        B("{\"a\":\"\\u0000\"}"),                     /* escaped NUL */
        B("{\"a\":\"\xff\"}"), B("{\"a\":\"\xc0\xaf\"}"), B("{\"a\":\"\xed\xa0\x80\"}"),
        B("{\"a\":\"\xe2\x82\"}"), B("{\"a\":\"\xf4\x90\x80\x80\"}"),
        B("{\"a\":\"\\ud800\"}"), B("{\"a\":\"\\udc00\"}"), B("{\"a\":\"\\ud800\\u0041\"}"),
        B("{\"a\":\"\\x\"}"), B("{\"a\":\"\\u12\"}"), B("{\"a\":\"\\u12g4\"}"),
        B("{\"a\":\"tab\there\"}"), B("{\"a\":\"nl\nhere\"}"),
        B("{\"a\":\"unterminated}"), B("{\"a\":\"\\"), B("{\"a\":tru}"), B("{\"a\":nul}"),
        B("{\"a\":True}"), B("GET / HTTP/1.1\r\n"), B("\xef\xbb\xbf{}"),
#undef B
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct json_value *v = (struct json_value *)1;
        struct kerr err = { 0 };
        int r = json_parse(bad[i].in, bad[i].len, 65536, &v, &err);
        if (r >= 0)
            fprintf(stderr, "  accepted bad input #%zu\n", i);
        CHECK(r < 0);
        CHECK(v == NULL);
        CHECK(str_starts(err.msg, "invalid JSON"));
    }
}

TEST(reader_limits)
{
    struct json_value *v = NULL;
    struct kerr err = { 0 };
    /* Depth: JSON_MAX_DEPTH nested arrays are fine, one more is not. */
    char deep[2 * (JSON_MAX_DEPTH + 1) + 1];
    for (int d = JSON_MAX_DEPTH; d <= JSON_MAX_DEPTH + 1; d++) {
        size_t n = 0;
        for (int i = 0; i < d; i++)
            deep[n++] = '[';
        for (int i = 0; i < d; i++)
            deep[n++] = ']';
        deep[n] = 0;
        int r = parse(deep, &v, &err);
        CHECK_INT(r < 0, d > JSON_MAX_DEPTH);
        json_free(v);
        v = NULL;
    }
    /* A very deep input fails cleanly (no stack exhaustion). */
    size_t big = 200000;
    char *s = malloc(big + 1);
    memset(s, '[', big);
    s[big] = 0;
    CHECK(json_parse(s, big, big, &v, &err) < 0);
    /* Too many values. */
    size_t n = 0;
    s[n++] = '[';
    for (int i = 0; i < JSON_MAX_NODES + 10; i++) {
        s[n++] = '1';
        s[n++] = ',';
    }
    s[n++] = '1';
    s[n++] = ']';
    CHECK(json_parse(s, n, big, &v, &err) < 0);
    CHECK(strstr(err.msg, "too many") != NULL);
    /* Size limit. */
    CHECK_INT(json_parse("{}", 2, 1, &v, &err), -EMSGSIZE);
    free(s);
}

TEST(base64_roundtrip)
{
    unsigned char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n <= 10; n++) {
        struct json_writer w;
        json_writer_init(&w);
        json_base64(&w, data, n);
        CHECK(w.len >= 2);
        unsigned char out[16];
        long r = json_base64_decode(w.buf + 1, w.len - 2, out);
        CHECK_INT(r, (long)n);
        CHECK(memcmp(out, data, n) == 0);
        json_writer_free(&w);
    }
    struct json_writer w;
    json_writer_init(&w);
    json_base64(&w, "foobar", 6);
    CHECK_STR(w.buf, "\"Zm9vYmFy\"");
    json_writer_free(&w);
    unsigned char out[16];
    CHECK(json_base64_decode("Zm9", 3, out) < 0);
    CHECK(json_base64_decode("Z=9v", 4, out) < 0);
    CHECK(json_base64_decode("Zm=v", 4, out) < 0);
    CHECK(json_base64_decode("Zm9v!!!!", 8, out) < 0);
    CHECK(json_base64_decode("Zg==Zg==", 8, out) < 0);
    CHECK_INT(json_base64_decode("Zg==", 4, out), 1);
}

TEST(utf8_validation)
{
    CHECK(json_utf8_valid("abc\xc3\xa9", 5));
    CHECK(!json_utf8_valid("\xc3", 1));
    CHECK(!json_utf8_valid("\xe0\x80\x80", 3));     /* overlong */
    CHECK(!json_utf8_valid("\xed\xbf\xbf", 3));     /* surrogate */
    CHECK(json_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
}

/* JSON_PARSE_FLOAT (keel import's image documents, the client's responses):
 * fractions and exponents within a double's range; past it, refused like an
 * integer past int64 (it was read as infinity, which writes back as null). */
TEST(reader_floats)
{
    static const struct { const char *in; double want; } ok[] = {
        { "1.5", 1.5 }, { "-2e3", -2000.0 }, { "1e308", 1e308 }, { "1e-400", 0.0 }, { "-0.0", 0.0 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        struct json_value *v = NULL;
        struct kerr err = { 0 };
        CHECK_INT(json_parse_ex(ok[i].in, strlen(ok[i].in), 64, 16, JSON_PARSE_FLOAT, &v, &err), 0);
        CHECK(v && v->type == JSON_DOUBLE && v->u.d == ok[i].want);
        json_free(v);
    }
    static const char *const bad[] = { "1e309", "-1e309", "{\"size\":1e999}", "[2.5e400]" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct json_value *v = NULL;
        struct kerr err = { 0 };
        CHECK_INT(json_parse_ex(bad[i], strlen(bad[i]), 64, 16, JSON_PARSE_FLOAT, &v, &err), -EINVAL);
        CHECK(v == NULL && strstr(err.msg, "out of range") != NULL);
    }
}

int main(void)
{
    RUN(writer_structure);
    RUN(writer_escaping);
    RUN(writer_output_always_parses);
    RUN(writer_depth_limit_is_sticky);
    RUN(writer_reset_reuses);
    RUN(reader_accepts);
    RUN(reader_rejects);
    RUN(reader_limits);
    RUN(base64_roundtrip);
    RUN(utf8_validation);
    RUN(reader_floats);
    return unit_done();
}
