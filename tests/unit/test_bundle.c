/* Unit tests of bundle.c: the index parser and the streaming reader, fed
 * archives built here byte by byte (so a test can break exactly one thing),
 * in chunks of every size, signed and unsigned. */
#include "keel/bundle.h"
#include "unit.h"

#include <errno.h>
#include <mbedtls/sha256.h>
#include <sodium/crypto_sign_ed25519.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tarbuf {
    unsigned char *b;
    size_t n, cap;
};

static void tb_raw(struct tarbuf *t, const void *p, size_t n)
{
    if (t->n + n > t->cap) {
        t->cap = (t->n + n) * 2 + 4096;
        t->b = realloc(t->b, t->cap);
    }
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

/* One member; TYPE '0' normally. */
static void tb_member(struct tarbuf *t, const char *name, const void *data, size_t n, char type)
{
    unsigned char h[512] = { 0 }, zero[512] = { 0 };
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)n & 077777777777ULL);
    memcpy(h + 136, "00000000000", 11);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar\0" "00", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    tb_raw(t, h, 512);
    tb_raw(t, data, n);
    if (n % 512)
        tb_raw(t, zero, 512 - n % 512);
}

static void tb_end(struct tarbuf *t)
{
    unsigned char zero[1024] = { 0 };
    tb_raw(t, zero, sizeof zero);
}

static const char MANIFEST[] = "[container c]\nlayers = /run/keel/slot/layers/0.erofs\ncommand = /bin/true\n";
static unsigned char LAYER[3000];

static void hexdig(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    mbedtls_sha256_ret(p, n, d, 0);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The index for MANIFEST and LAYER. */
static char *index_text(void)
{
    char a[65], b[65];
    hexdig(MANIFEST, strlen(MANIFEST), a);
    hexdig(LAYER, sizeof LAYER, b);
    char *s = malloc(512);
    snprintf(s, 512, "keel-bundle 1\n%s %zu manifest\n%s %zu layers/0.erofs\n", a, strlen(MANIFEST), b,
             sizeof LAYER);
    return s;
}

static unsigned char PK[32], SK[64], OTHER_PK[32], OTHER_SK[64];

enum breakage { GOOD, UNSIGNED, BAD_SIG, LAYER_FLIPPED, SWAPPED, EXTRA, SYMLINK, TRUNCATED, GARBAGE_AFTER };

static struct tarbuf make_bundle(enum breakage how)
{
    struct tarbuf t = { 0 };
    char *ix = index_text();
    tb_member(&t, "index", ix, strlen(ix), '0');
    if (how != UNSIGNED) {
        unsigned char sig[64];
        crypto_sign_ed25519_detached(sig, NULL, (unsigned char *)ix, strlen(ix), how == BAD_SIG ? OTHER_SK : SK);
        tb_member(&t, "index.sig", sig, sizeof sig, '0');
    }
    if (how == SWAPPED) {
        tb_member(&t, "layers/0.erofs", LAYER, sizeof LAYER, '0');
        tb_member(&t, "manifest", MANIFEST, strlen(MANIFEST), '0');
    } else {
        tb_member(&t, "manifest", MANIFEST, strlen(MANIFEST), how == SYMLINK ? '2' : '0');
        unsigned char l[sizeof LAYER];
        memcpy(l, LAYER, sizeof l);
        if (how == LAYER_FLIPPED)
            l[1234] ^= 1;
        tb_member(&t, "layers/0.erofs", l, sizeof l, '0');
    }
    if (how == EXTRA)
        tb_member(&t, "layers/1.erofs", "x", 1, '0');
    tb_end(&t);
    if (how == TRUNCATED)
        t.n -= 1024 + 100;
    if (how == GARBAGE_AFTER)
        tb_raw(&t, "junk", 4);
    free(ix);
    return t;
}

struct rec {
    int begins, ends;
    size_t bytes;
    char last_end[BUNDLE_NAME_MAX];
};

static int rec_begin(void *ctx, const struct bundle_entry *e, struct kerr *err)
{
    ((struct rec *)ctx)->begins++;
    return 0;
}

static int rec_data(void *ctx, const void *buf, size_t n, struct kerr *err)
{
    ((struct rec *)ctx)->bytes += n;
    return 0;
}

static int rec_end(void *ctx, const struct bundle_entry *e, struct kerr *err)
{
    struct rec *r = ctx;
    r->ends++;
    snprintf(r->last_end, sizeof r->last_end, "%s", e->name);
    return 0;
}

/* Feeds T in CHUNK-byte pieces; the first error or finish's result. */
static int feed(const struct tarbuf *t, const unsigned char *pk, size_t chunk, struct rec *rec, struct kerr *e)
{
    memset(rec, 0, sizeof *rec);
    struct bundle_sink sink = { rec_begin, rec_data, rec_end, rec };
    struct bundle_reader *r = bundle_reader_new(pk, &sink);
    int ret = 0;
    for (size_t o = 0; o < t->n && ret == 0; o += chunk)
        ret = bundle_reader_feed(r, t->b + o, o + chunk > t->n ? t->n - o : chunk, e);
    if (ret == 0)
        ret = bundle_reader_finish(r, e);
    bundle_reader_free(r);
    return ret;
}

TEST(index_parse)
{
    struct bundle_index *ix = malloc(sizeof *ix);
    struct kerr e = { 0 };
    char *s = index_text();
    CHECK_INT(bundle_index_parse(s, strlen(s), ix, &e), 0);
    CHECK_INT(ix->n, 2);
    CHECK_STR(ix->e[0].name, "manifest");
    CHECK_INT(ix->e[1].size, sizeof LAYER);
    char *f = bundle_index_format(ix);
    CHECK_STR(f, s);   /* round trip: the exact bytes that are signed */
    free(f);
    CHECK(bundle_index_find(ix, "layers/0.erofs") == &ix->e[1]);
    CHECK(bundle_index_find(ix, "layers/1.erofs") == NULL);

    static const char *const bad[] = {
        "",
        "keel-bundle 2\n",
        "keel-bundle 1\n",   /* no manifest */
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 1 manifest",
        "keel-bundle 1\n000000000000000000000000000000000000000000000000000000000000000 1 manifest\n",
        "keel-bundle 1\n000000000000000000000000000000000000000000000000000000000000000A 1 manifest\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 01 manifest\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 -1 manifest\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000  1 manifest\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 1 ../manifest\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 1 layers/../x\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 1 layers/0.tar\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 1 index\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 1 manifest\n"
        "0000000000000000000000000000000000000000000000000000000000000000 1 manifest\n",
        "keel-bundle 1\n0000000000000000000000000000000000000000000000000000000000000000 99999999999999999999 "
        "manifest\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kerr_clear(&e);
        int r = bundle_index_parse(bad[i], strlen(bad[i]), ix, &e);
        if (r != -EINVAL)
            fprintf(stderr, "  bad index %zu accepted\n", i);
        CHECK_INT(r, -EINVAL);
        CHECK(e.msg[0] != '\0');
    }
    free(s);
    free(ix);
}

TEST(reader_good_any_chunking)
{
    struct tarbuf t = make_bundle(GOOD);
    static const size_t chunks[] = { 1, 7, 511, 512, 513, 4096, 1 << 20 };
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        struct rec rec;
        struct kerr e = { 0 };
        CHECK_INT(feed(&t, PK, chunks[i], &rec, &e), 0);
        CHECK_INT(rec.begins, 2);
        CHECK_INT(rec.ends, 2);
        CHECK_INT(rec.bytes, strlen(MANIFEST) + sizeof LAYER);
        CHECK_STR(rec.last_end, "layers/0.erofs");
    }
    free(t.b);
}

TEST(reader_unsigned_without_key)
{
    struct tarbuf t = make_bundle(UNSIGNED);
    struct rec rec;
    struct kerr e = { 0 };
    CHECK_INT(feed(&t, NULL, 100, &rec, &e), 0);
    CHECK_INT(rec.ends, 2);
    free(t.b);
}

/* Every broken bundle is refused, and for signature problems before a
 * single payload byte reached the sink. */
TEST(reader_refuses)
{
    static const struct { enum breakage how; int max_ends; bool no_data; const char *what; } cases[] = {
        { UNSIGNED, 0, true, "not signed" },
        { BAD_SIG, 0, true, "signature" },
        { LAYER_FLIPPED, 1, false, "sha256" },
        { SWAPPED, 0, true, "where the index lists" },
        { EXTRA, 2, false, "not in the index" },
        { SYMLINK, 0, true, "not a regular file" },
        { TRUNCATED, 2, false, "truncated" },
        { GARBAGE_AFTER, 2, false, "after" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tarbuf t = make_bundle(cases[i].how);
        for (size_t chunk = 1; chunk <= 1024; chunk *= 32) {
            struct rec rec;
            struct kerr e = { 0 };
            int r = feed(&t, PK, chunk, &rec, &e);
            if (r != -EBADMSG || !strstr(e.msg, cases[i].what))
                fprintf(stderr, "  case %zu chunk %zu: %d %s\n", i, chunk, r, e.msg);
            CHECK_INT(r, -EBADMSG);
            CHECK(strstr(e.msg, cases[i].what) != NULL);
            CHECK(rec.ends <= cases[i].max_ends);
            if (cases[i].no_data)
                CHECK_INT(rec.bytes, 0);
        }
        free(t.b);
    }
}

TEST(reader_refuses_garbage_header)
{
    struct tarbuf t = make_bundle(GOOD);
    t.b[5] ^= 0x40;   /* the name "index" changes: the checksum no longer matches */
    struct rec rec;
    struct kerr e = { 0 };
    CHECK_INT(feed(&t, PK, 512, &rec, &e), -EBADMSG);
    CHECK(strstr(e.msg, "checksum") != NULL);
    free(t.b);
    struct tarbuf empty = { 0 };
    CHECK_INT(feed(&empty, NULL, 512, &rec, &e), -EBADMSG);
}

TEST(member_names)
{
    CHECK(bundle_member_name_ok("manifest"));
    CHECK(bundle_member_name_ok("layers/0.erofs"));
    CHECK(bundle_member_name_ok("layers/128.squashfs"));
    CHECK(!bundle_member_name_ok("layers/.erofs"));
    CHECK(!bundle_member_name_ok("layers/12345.erofs"));
    CHECK(!bundle_member_name_ok("layers/0.erofs/x"));
    CHECK(!bundle_member_name_ok("/manifest"));
    CHECK(!bundle_member_name_ok("index"));
}

struct mem {
    char manifest[512];
    size_t n;
    bool in_manifest;
};

static int mem_begin(void *ctx, const struct bundle_entry *e, struct kerr *err)
{
    ((struct mem *)ctx)->in_manifest = strcmp(e->name, "manifest") == 0;
    return 0;
}

static int mem_data(void *ctx, const void *buf, size_t n, struct kerr *err)
{
    struct mem *m = ctx;
    if (m->in_manifest && m->n + n < sizeof m->manifest) {
        memcpy(m->manifest + m->n, buf, n);
        m->n += n;
    }
    return 0;
}

/* keel bundle's writer, read back by the reader with the key's public half:
 * the layer (an image file: taken as it is) is member layers/0.erofs, and
 * the manifest names it under the slot link. */
TEST(write_read_back)
{
    char dir[] = "/tmp/test_bundle.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], key[256], pub[256], out[256], layer[256];
    snprintf(layer, sizeof layer, "%s/layer.img", dir);
    FILE *f = fopen(layer, "w");
    fwrite(LAYER, 1, sizeof LAYER, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/m.ini", dir);
    f = fopen(path, "w");
    fprintf(f, "[container c]\n; kept\nlayers = %s:%s\ncommand = /bin/true\n", layer, layer);
    fclose(f);
    snprintf(key, sizeof key, "%s/k", dir);
    struct kerr e = { 0 };
    CHECK_INT(bundle_keygen(key, &e), 0);
    snprintf(pub, sizeof pub, "%s/k.pub", dir);
    snprintf(key, sizeof key, "%s/k.key", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    CHECK_INT(bundle_write(path, out, key, &e), 0);
    unsigned char pk[BUNDLE_PUBKEY_BYTES];
    CHECK_INT(bundle_pubkey_load(pub, pk, &e), 0);

    struct mem m = { .n = 0 };
    struct bundle_sink sink = { mem_begin, mem_data, NULL, &m };
    struct bundle_reader *r = bundle_reader_new(pk, &sink);
    f = fopen(out, "r");
    unsigned char buf[777];
    size_t n;
    int ret = 0;
    while (ret == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ret = bundle_reader_feed(r, buf, n, &e);
    fclose(f);
    CHECK_INT(ret, 0);
    CHECK_INT(bundle_reader_finish(r, &e), 0);
    const struct bundle_index *ix = bundle_reader_index(r);
    CHECK(ix && ix->n == 2 && strcmp(ix->e[1].name, "layers/0.erofs") == 0 && ix->e[1].size == sizeof LAYER);
    bundle_reader_free(r);
    m.manifest[m.n] = '\0';
    CHECK_STR(m.manifest, "[container c]\n; kept\nlayers = " BUNDLE_SLOT_LINK "/layers/0.erofs:" BUNDLE_SLOT_LINK
                          "/layers/0.erofs\ncommand = /bin/true\n");
    /* Another key's public half refuses it. */
    unsigned char other[BUNDLE_PUBKEY_BYTES];
    memcpy(other, OTHER_PK, sizeof other);
    struct rec rec;
    struct tarbuf t = { 0 };
    f = fopen(out, "r");
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        tb_raw(&t, buf, n);
    fclose(f);
    CHECK_INT(feed(&t, other, 4096, &rec, &e), -EBADMSG);
    CHECK_INT(rec.bytes, 0);
    free(t.b);
    const char *files[] = { "layer.img", "m.ini", "k.key", "k.pub", "out" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Reads a hex key file written by bundle_keygen (2*n digits and a newline). */
static int read_hex(const char *path, unsigned char *b, size_t n)
{
    char hex[300];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t len = fread(hex, 1, sizeof hex - 1, f);
    fclose(f);
    if (len != 2 * n + 1 || hex[2 * n] != '\n')
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        b[i] = (unsigned char)v;
    }
    return 0;
}

/* bundle_keygen: the seed comes from getrandom (two pairs differ, neither
 * seed is all zeros), the secret key is seed + public key as libsodium lays
 * it out, the public key is the one the seed derives, and the pair signs and
 * verifies. */
TEST(keygen_pairs)
{
    char dir[] = "/tmp/test_bundle.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    unsigned char sk[2][64], pk[2][32];
    struct kerr e = { 0 };
    for (int i = 0; i < 2; i++) {
        char prefix[256], path[300];
        snprintf(prefix, sizeof prefix, "%s/k%d", dir, i);
        CHECK_INT(bundle_keygen(prefix, &e), 0);
        snprintf(path, sizeof path, "%s.key", prefix);
        CHECK_INT(read_hex(path, sk[i], sizeof sk[i]), 0);
        unlink(path);
        snprintf(path, sizeof path, "%s.pub", prefix);
        CHECK_INT(read_hex(path, pk[i], sizeof pk[i]), 0);
        unlink(path);
        static const unsigned char zero[32];
        CHECK(memcmp(sk[i], zero, 32) != 0);
        CHECK(memcmp(sk[i] + 32, pk[i], 32) == 0);
        unsigned char dpk[32], dsk[64];
        CHECK_INT(crypto_sign_ed25519_seed_keypair(dpk, dsk, sk[i]), 0);
        CHECK(memcmp(dpk, pk[i], 32) == 0);
        unsigned char sig[64];
        CHECK_INT(crypto_sign_ed25519_detached(sig, NULL, (const unsigned char *)"m", 1, sk[i]), 0);
        CHECK_INT(bundle_sig_verify(sig, (const unsigned char *)"m", 1, pk[i], &e), 0);
        sig[0] ^= 1;
        CHECK_INT(bundle_sig_verify(sig, (const unsigned char *)"m", 1, pk[i], &e), -EBADMSG);
    }
    CHECK(memcmp(sk[0], sk[1], 32) != 0);
    rmdir(dir);
}

/* update_key is read by PID 1 at each update: a FIFO (or another file that
 * is not regular) is refused at once, never opened blocking (before: the
 * open waited for a writer for good; here, the test would hang). */
TEST(key_not_regular_refused)
{
    char dir[] = "/tmp/test_bundle.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/key.pub", dir);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    unsigned char pk[BUNDLE_PUBKEY_BYTES];
    struct kerr e = { 0 };
    CHECK_INT(bundle_pubkey_load(fifo, pk, &e), -EINVAL);
    CHECK(strstr(e.msg, "not a regular file") != NULL);
    CHECK_INT(bundle_pubkey_load(dir, pk, &e), -EINVAL);
    unlink(fifo);
    rmdir(dir);
}

int main(void)
{
    /* keel calls libsodium's Ed25519 alone, without sodium_init() (bundle.c
     * says why): so do the tests. */
    unsigned char seed[32];
    memset(seed, 1, sizeof seed);
    crypto_sign_ed25519_seed_keypair(PK, SK, seed);
    memset(seed, 2, sizeof seed);
    crypto_sign_ed25519_seed_keypair(OTHER_PK, OTHER_SK, seed);
    for (size_t i = 0; i < sizeof LAYER; i++)
        LAYER[i] = (unsigned char)(i * 7);
    RUN(index_parse);
    RUN(reader_good_any_chunking);
    RUN(reader_unsigned_without_key);
    RUN(reader_refuses);
    RUN(reader_refuses_garbage_header);
    RUN(member_names);
    RUN(write_read_back);
    RUN(keygen_pairs);
    RUN(key_not_regular_refused);
    return unit_done();
}
