/* fuzz_control.c — libFuzzer target for the control protocol decoder:
 * arbitrary bytes -> proto_request_parse (JSON reader + request
 * validation), and for accepted requests the response writer against a
 * fake, empty supervisor.  Built by `make fuzz` with clang -fsanitize=fuzzer
 * and linked against keel's module objects (not main.o).
 *
 * Invariants checked: no crash or leak; an accepted request has an op and,
 * for exec, a non-empty NULL-terminated argv; a rejected one leaves nothing
 * allocated; every response is one line of JSON the strict reader accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keel/control.h"
#include "keel/json.h"

struct supervisor { int unused; };
static struct supervisor fake;
static struct manifest empty;

static size_t f_count(const struct supervisor *s) { (void)s; return 0; }
static void f_status(const struct supervisor *s, size_t i, struct container_status *st)
{
    (void)s, (void)i;
    memset(st, 0, sizeof *st);
}
static int f_find(const struct supervisor *s, const char *name) { (void)s, (void)name; return -2; }
static const struct manifest *f_manifest(const struct supervisor *s) { (void)s; return &empty; }
static void f_power(struct supervisor *s, enum power_action a) { (void)s, (void)a; }

static const struct control_backend be = {
    .sup = &fake, .count = f_count, .status = f_status, .find = f_find, .manifest = f_manifest,
    .request_power = f_power,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_request req;
    struct kerr err = { 0 };
    if (proto_request_parse((const char *)data, size, &req, &err) < 0) {
        if (req.tree || req.argv || err.msg[0] == 0)
            abort();
        return 0;
    }
    if (req.op == PROTO_OP_EXEC && (!req.argv || !req.argv[0] || !req.argv[0][0]))
        abort();
    struct json_writer w;
    json_writer_init(&w);
    if (control_respond(&be, &req, &w) == 0 && !json_writer_error(&w)) {
        struct json_value *v = NULL;
        if (w.len == 0 || w.buf[w.len - 1] != '\n' || memchr(w.buf, '\n', w.len) != w.buf + w.len - 1)
            abort();
        if (json_parse(w.buf, w.len - 1, 1 << 20, &v, &err) < 0)
            abort();
        json_free(v);
    }
    json_writer_free(&w);
    proto_request_free(&req);
    return 0;
}
