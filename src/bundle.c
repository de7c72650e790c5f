/* bundle.c — payload bundles: the index, the strict streaming ustar reader,
 * the Ed25519 signature check and `keel bundle`'s writer.  See bundle.h. */
#include "keel/bundle.h"
#include "keel/manifest.h"
#include "keel/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mbedtls/sha256.h>
#include <sodium/crypto_sign_ed25519.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TAR_BLOCK 512

/* --- names and the index ---------------------------------------------------- */

bool bundle_member_name_ok(const char *name)
{
    if (strcmp(name, "manifest") == 0)
        return true;
    if (!str_starts(name, "layers/"))
        return false;
    const char *p = name + strlen("layers/");
    size_t digits = 0;
    while (isdigit((unsigned char)*p) && digits < 4)
        p++, digits++;
    return digits > 0 && (strcmp(p, ".erofs") == 0 || strcmp(p, ".squashfs") == 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;   /* upper case is refused: one spelling per digest */
}

static int hex_decode(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int bundle_index_parse(const char *buf, size_t len, struct bundle_index *out, struct kerr *err)
{
    memset(out, 0, sizeof *out);
    size_t ml = strlen(BUNDLE_MAGIC);
    if (len < ml || memcmp(buf, BUNDLE_MAGIC, ml) != 0)
        return kerr_msg(err, EINVAL, "index line 1: not \"%.*s\"", (int)ml - 1, BUNDLE_MAGIC);
    if (len > BUNDLE_INDEX_MAX)
        return kerr_msg(err, EINVAL, "index: longer than %d bytes", BUNDLE_INDEX_MAX);
    if (buf[len - 1] != '\n')   /* len >= the magic's length here */
        return kerr_msg(err, EINVAL, "index: does not end with a newline");
    if (memchr(buf, '\0', len))
        return kerr_msg(err, EINVAL, "index: contains a NUL byte");
    size_t pos = ml;
    int lineno = 1, manifests = 0;
    while (pos < len) {
        lineno++;
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);   /* found: the buffer ends with one */
        size_t ll = (size_t)(nl - line);
        pos += ll + 1;
        if (out->n == BUNDLE_MAX_MEMBERS)
            return kerr_msg(err, EINVAL, "index line %d: more than %d members", lineno, BUNDLE_MAX_MEMBERS);
        struct bundle_entry *e = &out->e[out->n];
        /* SHA256HEX ' ' SIZE ' ' NAME: exactly one space each, no leading zeros. */
        if (ll < 64 + 1 + 1 + 1 + 1 || line[64] != ' ' || hex_decode(line, 32, e->sha256) < 0)
            return kerr_msg(err, EINVAL, "index line %d: does not start with a lower-case sha256 and a space",
                            lineno);
        const char *p = line + 65, *end = line + ll;
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp || sp == p || (sp - p > 1 && *p == '0') || sp - p > 19)
            return kerr_msg(err, EINVAL, "index line %d: no valid size", lineno);
        uint64_t size = 0;
        for (const char *q = p; q < sp; q++) {
            if (!isdigit((unsigned char)*q))
                return kerr_msg(err, EINVAL, "index line %d: no valid size", lineno);
            size = size * 10 + (uint64_t)(*q - '0');
        }
        e->size = size;
        size_t nl2 = (size_t)(end - sp - 1);
        if (nl2 == 0 || nl2 >= sizeof e->name)
            return kerr_msg(err, EINVAL, "index line %d: no valid member name", lineno);
        memcpy(e->name, sp + 1, nl2);
        e->name[nl2] = '\0';
        if (!bundle_member_name_ok(e->name))
            return kerr_msg(err, EINVAL, "index line %d: '%s' is not a member a bundle may hold", lineno, e->name);
        if (bundle_index_find(out, e->name))
            return kerr_msg(err, EINVAL, "index line %d: '%s' is listed twice", lineno, e->name);
        if (strcmp(e->name, "manifest") == 0)
            manifests++;
        out->n++;
    }
    if (manifests != 1)
        return kerr_msg(err, EINVAL, "index: lists no manifest");
    return 0;
}

char *bundle_index_format(const struct bundle_index *ix)
{
    size_t cap = strlen(BUNDLE_MAGIC) + ix->n * (64 + 2 + 20 + BUNDLE_NAME_MAX + 1) + 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t o = (size_t)snprintf(s, cap, "%s", BUNDLE_MAGIC);
    for (size_t i = 0; i < ix->n; i++) {
        for (int b = 0; b < 32; b++)
            o += (size_t)snprintf(s + o, cap - o, "%02x", ix->e[i].sha256[b]);
        o += (size_t)snprintf(s + o, cap - o, " %llu %s\n", (unsigned long long)ix->e[i].size, ix->e[i].name);
    }
    return s;
}

const struct bundle_entry *bundle_index_find(const struct bundle_index *ix, const char *name)
{
    for (size_t i = 0; i < ix->n; i++)
        if (strcmp(ix->e[i].name, name) == 0)
            return &ix->e[i];
    return NULL;
}

/* --- signatures ---------------------------------------------------------------- */

/* mbedTLS 2.28 (Debian 12) has no Ed25519; libsodium links statically, and
 * only its Ed25519 is called, by name (crypto_sign_ed25519_*, not the generic
 * crypto_sign_*), without sodium_init().  That is safe in libsodium 1.0.18:
 * sodium_init() only picks CPU-specific implementations of BLAKE2b, Argon2,
 * Poly1305, X25519, ChaCha20 and Salsa20, sets up sodium_malloc's canary and
 * stirs randombytes; Ed25519 (crypto_sign/ed25519/ref10, the field arithmetic
 * of crypto_core/ed25519/ref10, SHA-512 of crypto_hash/sha512/cp) is plain C
 * with no dispatch and no state, and signing is deterministic (no
 * randombytes).  The one random input, the seed of a new key pair, comes from
 * getrandom(2) (bundle_keygen).  Leaving sodium_init() out lets the static
 * link drop those implementations (third_party/sodium). */
int bundle_sig_verify(const unsigned char *sig, const unsigned char *msg, size_t len,
                      const unsigned char *pubkey, struct kerr *err)
{
    if (crypto_sign_ed25519_verify_detached(sig, msg, len, pubkey) != 0)
        return kerr_msg(err, EBADMSG, "the index's signature does not match the update key");
    return 0;
}

/* A key file: RAW bytes, or 2*RAW hex digits and an optional newline. */
static int key_load(const char *path, unsigned char *key, size_t raw, struct kerr *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    /* Opened without blocking, a regular file only: PID 1 reads update_key
     * at each update, and a FIFO's open would hold it for good. */
    int r = read_regular_file(path, 4 * raw, &buf, &len);
    if (r == -EINVAL)
        return kerr_msg(err, EINVAL, "cannot read the key %s: not a regular file", path);
    if (r < 0)
        return kerr_set(err, -r, "cannot read the key %s", path);
    if (len == raw) {
        memcpy(key, buf, raw);
        return 0;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len == 2 * raw && hex_decode(buf, raw, key) == 0)
        return 0;
    return kerr_msg(err, EINVAL, "cannot use the key %s: not %zu raw bytes nor %zu lower-case hex digits", path,
                    raw, 2 * raw);
}

int bundle_pubkey_load(const char *path, unsigned char key[BUNDLE_PUBKEY_BYTES], struct kerr *err)
{
    return key_load(path, key, BUNDLE_PUBKEY_BYTES, err);
}

/* --- the streaming reader -------------------------------------------------------- */

enum rd_state {
    RD_HEADER,   /* collecting a 512-byte header */
    RD_DATA,     /* member data */
    RD_PAD,      /* padding to the next block */
    RD_ZERO2,    /* saw one zero block, the second must follow */
    RD_TRAIL,    /* end of archive: only zero bytes may follow */
    RD_FAILED,
};

enum rd_member { M_INDEX, M_SIG, M_PAYLOAD };

struct bundle_reader {
    enum rd_state st;
    enum rd_member kind;
    unsigned char hdr[TAR_BLOCK];
    size_t hdr_len;
    uint64_t left, pad;
    bool have_index, have_sig, sig_checked;
    size_t next;                        /* next index entry expected */
    char index[BUNDLE_INDEX_MAX];
    size_t index_len;
    unsigned char sig[BUNDLE_SIG_BYTES];
    size_t sig_len;
    bool need_sig;
    unsigned char pubkey[BUNDLE_PUBKEY_BYTES];
    struct bundle_index ix;
    struct bundle_sink sink;
    mbedtls_sha256_context sha;
};

struct bundle_reader *bundle_reader_new(const unsigned char *pubkey, const struct bundle_sink *sink)
{
    struct bundle_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (pubkey) {
        r->need_sig = true;
        memcpy(r->pubkey, pubkey, sizeof r->pubkey);
    }
    r->sink = *sink;
    mbedtls_sha256_init(&r->sha);
    return r;
}

void bundle_reader_free(struct bundle_reader *r)
{
    if (!r)
        return;
    mbedtls_sha256_free(&r->sha);
    free(r);
}

const struct bundle_index *bundle_reader_index(const struct bundle_reader *r)
{
    return r->have_index ? &r->ix : NULL;
}

static int rd_fail(struct bundle_reader *r, int ret)
{
    r->st = RD_FAILED;
    return ret;
}

/* An octal field: digits, then NUL/space padding only. */
static int tar_octal(const unsigned char *f, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    size_t start = i;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    if (i == start)
        return -1;
    for (; i < n; i++)
        if (f[i] != '\0' && f[i] != ' ')
            return -1;
    *out = v;
    return 0;
}

static bool all_zero(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* The signature is checked once the index (and index.sig, if any) are read
 * and before the first payload byte reaches the sink. */
static int rd_check_sig(struct bundle_reader *r, struct kerr *err)
{
    if (r->sig_checked)
        return 0;
    r->sig_checked = true;
    if (!r->need_sig)
        return 0;
    if (!r->have_sig)
        return kerr_msg(err, EBADMSG, "the bundle is not signed and [system] update_key requires a signature");
    return bundle_sig_verify(r->sig, (const unsigned char *)r->index, r->index_len, r->pubkey, err);
}

static int rd_header(struct bundle_reader *r, struct kerr *err)
{
    const unsigned char *h = r->hdr;
    if (all_zero(h, TAR_BLOCK)) {
        r->st = RD_ZERO2;
        return 0;
    }
    uint64_t sum = 0, want;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    if (tar_octal(h + 148, 8, &want) < 0 || want != sum)
        return kerr_msg(err, EBADMSG, "bundle: a tar header's checksum is wrong");
    if (memcmp(h + 257, "ustar\0" "00", 8) != 0)
        return kerr_msg(err, EBADMSG, "bundle: a tar header is not POSIX ustar");
    if (h[156] != '0' && h[156] != '\0')
        return kerr_msg(err, EBADMSG, "bundle: a member is not a regular file (type '%c')", h[156]);
    if (!all_zero(h + 345, 155))
        return kerr_msg(err, EBADMSG, "bundle: a member name uses the ustar prefix field");
    if (!memchr(h, '\0', 100))
        return kerr_msg(err, EBADMSG, "bundle: a member name fills the whole name field");
    const char *name = (const char *)h;
    uint64_t size;
    if (tar_octal(h + 124, 12, &size) < 0)
        return kerr_msg(err, EBADMSG, "bundle: member %.64s has no valid size", name);
    r->left = size;
    r->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
    r->st = RD_DATA;
    if (!r->have_index) {
        if (strcmp(name, "index") != 0)
            return kerr_msg(err, EBADMSG, "bundle: the first member is '%.64s', not 'index'", name);
        if (size > BUNDLE_INDEX_MAX)
            return kerr_msg(err, EBADMSG, "bundle: the index is longer than %d bytes", BUNDLE_INDEX_MAX);
        r->kind = M_INDEX;
        return 0;
    }
    if (strcmp(name, "index.sig") == 0) {
        if (r->have_sig || r->next > 0)
            return kerr_msg(err, EBADMSG, "bundle: index.sig is not the second member");
        if (size != BUNDLE_SIG_BYTES)
            return kerr_msg(err, EBADMSG, "bundle: index.sig is not %d bytes", BUNDLE_SIG_BYTES);
        r->kind = M_SIG;
        return 0;
    }
    int ret = rd_check_sig(r, err);
    if (ret < 0)
        return ret;
    if (r->next >= r->ix.n)
        return kerr_msg(err, EBADMSG, "bundle: member '%.64s' is not in the index", name);
    const struct bundle_entry *e = &r->ix.e[r->next];
    if (strcmp(name, e->name) != 0)
        return kerr_msg(err, EBADMSG, "bundle: member '%.64s' where the index lists '%s'", name, e->name);
    if (size != e->size)
        return kerr_msg(err, EBADMSG, "bundle: member %s has %llu bytes, the index says %llu", e->name,
                        (unsigned long long)size, (unsigned long long)e->size);
    r->kind = M_PAYLOAD;
    if (mbedtls_sha256_starts_ret(&r->sha, 0) != 0)
        return kerr_msg(err, EIO, "cannot start a sha256");
    return r->sink.begin ? r->sink.begin(r->sink.ctx, e, err) : 0;
}

static int rd_member_end(struct bundle_reader *r, struct kerr *err)
{
    switch (r->kind) {
    case M_INDEX: {
        int ret = bundle_index_parse(r->index, r->index_len, &r->ix, err);
        if (ret < 0)
            return kerr_prefix(err, "bundle");
        r->have_index = true;
        return 0;
    }
    case M_SIG:
        r->have_sig = true;
        return 0;
    case M_PAYLOAD: {
        const struct bundle_entry *e = &r->ix.e[r->next];
        unsigned char d[32];
        if (mbedtls_sha256_finish_ret(&r->sha, d) != 0)
            return kerr_msg(err, EIO, "cannot finish a sha256");
        if (memcmp(d, e->sha256, 32) != 0)
            return kerr_msg(err, EBADMSG, "bundle: member %s does not match its sha256 in the index", e->name);
        r->next++;
        return r->sink.end ? r->sink.end(r->sink.ctx, e, err) : 0;
    }
    }
    return 0;
}

static int rd_data(struct bundle_reader *r, const unsigned char *p, size_t n, struct kerr *err)
{
    switch (r->kind) {
    case M_INDEX:
        memcpy(r->index + r->index_len, p, n);   /* size checked against the buffer in rd_header */
        r->index_len += n;
        return 0;
    case M_SIG:
        memcpy(r->sig + r->sig_len, p, n);
        r->sig_len += n;
        return 0;
    case M_PAYLOAD:
        if (mbedtls_sha256_update_ret(&r->sha, p, n) != 0)
            return kerr_msg(err, EIO, "cannot compute a sha256");
        return r->sink.data ? r->sink.data(r->sink.ctx, p, n, err) : 0;
    }
    return 0;
}

int bundle_reader_feed(struct bundle_reader *r, const void *buf, size_t n, struct kerr *err)
{
    const unsigned char *p = buf;
    int ret;
    while (n > 0) {
        switch (r->st) {
        case RD_FAILED:
            return kerr_msg(err, EBADMSG, "bundle: the reader already failed");
        case RD_HEADER:
        case RD_ZERO2: {
            size_t k = TAR_BLOCK - r->hdr_len;
            if (k > n)
                k = n;
            memcpy(r->hdr + r->hdr_len, p, k);
            r->hdr_len += k, p += k, n -= k;
            if (r->hdr_len < TAR_BLOCK)
                break;
            r->hdr_len = 0;
            if (r->st == RD_ZERO2) {
                if (!all_zero(r->hdr, TAR_BLOCK))
                    return rd_fail(r, kerr_msg(err, EBADMSG, "bundle: data after an end-of-archive block"));
                r->st = RD_TRAIL;
                break;
            }
            if ((ret = rd_header(r, err)) < 0)
                return rd_fail(r, ret);
            if (r->st == RD_DATA && r->left == 0 && (ret = rd_member_end(r, err)) < 0)
                return rd_fail(r, ret);
            if (r->st == RD_DATA && r->left == 0)
                r->st = RD_HEADER;   /* an empty member has no padding either */
            break;
        }
        case RD_DATA: {
            size_t k = r->left < n ? (size_t)r->left : n;
            if ((ret = rd_data(r, p, k, err)) < 0)
                return rd_fail(r, ret);
            r->left -= k, p += k, n -= k;
            if (r->left == 0) {
                if ((ret = rd_member_end(r, err)) < 0)
                    return rd_fail(r, ret);
                r->st = r->pad ? RD_PAD : RD_HEADER;
            }
            break;
        }
        case RD_PAD: {
            size_t k = r->pad < n ? (size_t)r->pad : n;
            if (!all_zero(p, k))
                return rd_fail(r, kerr_msg(err, EBADMSG, "bundle: padding after a member is not zero"));
            r->pad -= k, p += k, n -= k;
            if (r->pad == 0)
                r->st = RD_HEADER;
            break;
        }
        case RD_TRAIL:
            if (!all_zero(p, n))
                return rd_fail(r, kerr_msg(err, EBADMSG, "bundle: data after the end of the archive"));
            n = 0;
            break;
        }
    }
    return 0;
}

int bundle_reader_finish(struct bundle_reader *r, struct kerr *err)
{
    if (r->st == RD_FAILED)
        return kerr_msg(err, EBADMSG, "bundle: the reader already failed");
    if (r->st != RD_TRAIL || r->hdr_len != 0)
        return rd_fail(r, kerr_msg(err, EBADMSG, "bundle: the archive is truncated"));
    if (!r->have_index || r->next != r->ix.n) {
        if (!r->have_index)
            return rd_fail(r, kerr_msg(err, EBADMSG, "bundle: no index"));
        return rd_fail(r, kerr_msg(err, EBADMSG, "bundle: member %s listed in the index is missing",
                                   r->ix.e[r->next].name));
    }
    int ret = rd_check_sig(r, err);   /* an index with no member after it still needs it */
    return ret < 0 ? rd_fail(r, ret) : 0;
}

/* --- writing -------------------------------------------------------------------- */

static void tar_header(unsigned char h[TAR_BLOCK], const char *name, uint64_t size)
{
    memset(h, 0, TAR_BLOCK);
    snprintf((char *)h, 100, "%s", name);
    static const unsigned char magic[8] = { 'u', 's', 't', 'a', 'r', '\0', '0', '0' };
    snprintf((char *)h + 100, 8, "%07o", 0644);   /* mode, uid, gid, mtime: NUL-terminated octal */
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = '0';
    memcpy(h + 257, magic, sizeof magic);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);   /* six digits, NUL, and the space left in place */
}

/* Padding and the end-of-archive blocks.  Not const: in .bss the zeros cost
 * the static binary no bytes (issue 17's size bound); nothing writes it. */
static unsigned char tar_zeros[2 * TAR_BLOCK];

static int tar_put(int fd, const char *name, const void *buf, size_t n)
{
    unsigned char h[TAR_BLOCK];
    tar_header(h, name, n);
    int r = write_all(fd, h, sizeof h);
    if (r == 0)
        r = write_all(fd, buf, n);
    if (r == 0 && n % TAR_BLOCK) {
        r = write_all(fd, tar_zeros, TAR_BLOCK - n % TAR_BLOCK);
    }
    return r;
}

static int tar_put_file(int fd, const char *name, const char *path, uint64_t size, struct kerr *err)
{
    unsigned char h[TAR_BLOCK], zero[TAR_BLOCK] = { 0 };
    tar_header(h, name, size);
    int r = write_all(fd, h, sizeof h);
    if (r < 0)
        return kerr_set(err, -r, "cannot write the bundle");
    _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kerr_set(err, errno, "cannot open %s", path);
    static unsigned char buf[1 << 16];
    uint64_t done = 0;
    while (done < size) {
        ssize_t k = read(in, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return kerr_set(err, k < 0 ? errno : EIO, "cannot read %s (did it change while bundling?)", path);
        if ((uint64_t)k > size - done)
            return kerr_msg(err, EIO, "cannot bundle %s: it grew while bundling", path);
        if ((r = write_all(fd, buf, (size_t)k)) < 0)
            return kerr_set(err, -r, "cannot write the bundle");
        done += (uint64_t)k;
    }
    if (size % TAR_BLOCK && (r = write_all(fd, zero, TAR_BLOCK - size % TAR_BLOCK)) < 0)
        return kerr_set(err, -r, "cannot write the bundle");
    return 0;
}

static int sha256_file(const char *path, unsigned char d[32], uint64_t *size, struct kerr *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open %s", path);
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    int ret = mbedtls_sha256_starts_ret(&c, 0) ? -EIO : 0;
    static unsigned char buf[1 << 16];
    *size = 0;
    while (ret == 0) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            ret = -errno;
        if (k <= 0)
            break;
        if (mbedtls_sha256_update_ret(&c, buf, (size_t)k))
            ret = -EIO;
        *size += (uint64_t)k;
    }
    if (ret == 0 && mbedtls_sha256_finish_ret(&c, d))
        ret = -EIO;
    mbedtls_sha256_free(&c);
    return ret < 0 ? kerr_set(err, -ret, "cannot read %s", path) : 0;
}

static int run_mkfs_erofs(const char *dir, const char *img, struct kerr *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return kerr_set(err, errno, "cannot fork for mkfs.erofs");
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0)
            (void)dup2(null, STDOUT_FILENO);
        /* -T0 and -U: reproducible images (no time stamps, no random uuid). */
        execlp("mkfs.erofs", "mkfs.erofs", "-T0", "-U", "00000000-0000-0000-0000-000000000000", "-x-1", img,
               dir, (char *)NULL);
        fprintf(stderr, "keel: error: cannot run mkfs.erofs: %s\n", strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return kerr_set(err, errno, "cannot wait for mkfs.erofs");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return kerr_msg(err, EIO, "cannot pack the layer %s with mkfs.erofs (status %d)", dir, st);
    return 0;
}

static bool is_squashfs(const char *path)
{
    unsigned char m[4] = { 0 };
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd >= 0 && read(fd, m, sizeof m) == (ssize_t)sizeof m && memcmp(m, "hsqs", 4) == 0;
}

struct layer_map {
    char **src;      /* layer paths in the original manifest, first use order */
    char **file;     /* the file packed for each (an image, or a fresh erofs in tmp) */
    char **member;   /* its member name */
};

/* The member for layer path SRC, packing it on first use. */
static int layer_member(struct layer_map *lm, const char *src, const char *tmp, const char **member,
                        struct kerr *err)
{
    size_t i = 0;
    for (; lm->src && lm->src[i]; i++)
        if (strcmp(lm->src[i], src) == 0) {
            *member = lm->member[i];
            return 0;
        }
    if (i + 1 >= BUNDLE_MAX_MEMBERS)
        return kerr_msg(err, E2BIG, "cannot bundle more than %d layers", BUNDLE_MAX_MEMBERS - 1);
    struct stat st;
    if (stat(src, &st) < 0)
        return kerr_set(err, errno, "cannot bundle the layer %s", src);
    _cleanup_free_ char *file = NULL, *name = NULL;
    if (S_ISDIR(st.st_mode)) {
        name = xasprintf("layers/%zu.erofs", i);
        file = xasprintf("%s/%zu.erofs", tmp, i);
        if (!name || !file)
            return kerr_set(err, ENOMEM, "cannot bundle the layer %s", src);
        int r = run_mkfs_erofs(src, file, err);
        if (r < 0)
            return r;
    } else if (S_ISREG(st.st_mode)) {
        name = xasprintf("layers/%zu.%s", i, is_squashfs(src) ? "squashfs" : "erofs");
        file = strdup(src);
        if (!name || !file)
            return kerr_set(err, ENOMEM, "cannot bundle the layer %s", src);
    } else {
        return kerr_msg(err, EINVAL, "cannot bundle the layer %s: neither a directory nor an image file", src);
    }
    if (strv_push(&lm->src, src) < 0 || strv_push(&lm->file, file) < 0 || strv_push(&lm->member, name) < 0)
        return kerr_set(err, ENOMEM, "cannot bundle the layer %s", src);
    *member = lm->member[i];
    return 0;
}

/* The manifest text with every `layers =` value rewritten to members under
 * BUNDLE_SLOT_LINK.  A line-level rewrite keeps the author's comments and
 * order; the manifest was loaded in full before, so its syntax is valid. */
static int rewrite_manifest(const char *text, size_t len, struct layer_map *lm, const char *tmp, char **out,
                            struct kerr *err)
{
    size_t cap = len + 1, o = 0;
    _cleanup_free_ char *s = malloc(cap);
    if (!s)
        return kerr_set(err, ENOMEM, "cannot rewrite the manifest");
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        const char *q = p;
        while (q < p + ll && (*q == ' ' || *q == '\t'))
            q++;
        const char *kend = q;
        while (kend < p + ll && (isalnum((unsigned char)*kend) || *kend == '_'))
            kend++;
        const char *eq = kend;
        while (eq < p + ll && (*eq == ' ' || *eq == '\t'))
            eq++;
        _cleanup_free_ char *line = NULL;
        if ((size_t)(kend - q) == 6 && memcmp(q, "layers", 6) == 0 && eq < p + ll && *eq == '=') {
            const char *v = eq + 1, *vend = p + ll;
            while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
            while (vend > v && isspace((unsigned char)vend[-1]))
                vend--;
            _cleanup_free_ char *val = strndup(v, (size_t)(vend - v));
            line = strdup("layers = ");
            if (!val || !line)
                return kerr_set(err, ENOMEM, "cannot rewrite the manifest");
            char *save = NULL;
            bool first = true;
            for (char *tok = strtok_r(val, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
                const char *member = NULL;
                int r = layer_member(lm, tok, tmp, &member, err);
                if (r < 0)
                    return r;
                char *nline = xasprintf("%s%s%s/%s", line, first ? "" : ":", BUNDLE_SLOT_LINK, member);
                if (!nline)
                    return kerr_set(err, ENOMEM, "cannot rewrite the manifest");
                free(line);
                line = nline;
                first = false;
            }
            char *nline = xasprintf("%s\n", line);
            if (!nline)
                return kerr_set(err, ENOMEM, "cannot rewrite the manifest");
            free(line);
            line = nline;
        }
        const char *add = line ? line : p;
        size_t al = line ? strlen(line) : ll;
        if (o + al + 1 > cap) {
            cap = (o + al + 1) * 2;
            char *ns = realloc(s, cap);
            if (!ns)
                return kerr_set(err, ENOMEM, "cannot rewrite the manifest");
            s = ns;
        }
        memcpy(s + o, add, al);
        o += al;
        p += ll;
    }
    s[o] = '\0';
    *out = TAKE_PTR(s);
    return 0;
}

static void rm_tmp(const char *tmp, struct layer_map *lm)
{
    for (size_t i = 0; lm->file && lm->file[i]; i++)
        if (str_starts(lm->file[i], tmp))
            (void)unlink(lm->file[i]);
    (void)rmdir(tmp);
}

int bundle_write(const char *manifest, const char *out, const char *key, struct kerr *err)
{
    struct diag d = { 0 };
    struct manifest *m = NULL;
    /* No file checks: bind sources and devices are the appliance's, not
     * this build machine's (the layers are checked as they are packed). */
    int r = manifest_load(manifest, MANIFEST_NO_FS_CHECKS, &m, &d);
    if (r < 0) {
        for (size_t i = 0; i < d.count; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        diag_free(&d);
        return kerr_msg(err, EINVAL, "cannot bundle %s: it does not pass keel check", manifest);
    }
    manifest_free(m);
    diag_free(&d);

    unsigned char sk[crypto_sign_ed25519_SECRETKEYBYTES];
    if (key && (r = key_load(key, sk, sizeof sk, err)) < 0)
        return r;

    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if ((r = read_file_at(AT_FDCWD, manifest, 1 << 20, &text, &len)) < 0)
        return kerr_set(err, -r, "cannot read %s", manifest);

    char tmp[] = "/tmp/keel-bundle.XXXXXX";
    if (!mkdtemp(tmp))
        return kerr_set(err, errno, "cannot create a temporary directory");
    struct layer_map lm = { 0 };
    _cleanup_free_ char *rewritten = NULL, *index = NULL;
    struct bundle_index ix = { 0 };
    _cleanup_close_ int fd = -1;

    if ((r = rewrite_manifest(text, len, &lm, tmp, &rewritten, err)) < 0)
        goto out;
    /* The digests first: the index comes first in the archive. */
    struct bundle_entry *e = &ix.e[ix.n++];
    snprintf(e->name, sizeof e->name, "manifest");
    e->size = strlen(rewritten);
    if (mbedtls_sha256_ret((const unsigned char *)rewritten, e->size, e->sha256, 0) != 0) {
        r = kerr_msg(err, EIO, "cannot compute a sha256");
        goto out;
    }
    for (size_t i = 0; lm.file && lm.file[i]; i++) {
        e = &ix.e[ix.n++];
        snprintf(e->name, sizeof e->name, "%s", lm.member[i]);
        if ((r = sha256_file(lm.file[i], e->sha256, &e->size, err)) < 0)
            goto out;
    }
    if (!(index = bundle_index_format(&ix))) {
        r = kerr_set(err, ENOMEM, "cannot write the index");
        goto out;
    }
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = kerr_set(err, errno, "cannot create %s", out);
        goto out;
    }
    if ((r = tar_put(fd, "index", index, strlen(index))) < 0) {
        r = kerr_set(err, -r, "cannot write %s", out);
        goto out;
    }
    if (key) {
        unsigned char sig[crypto_sign_ed25519_BYTES];
        if (crypto_sign_ed25519_detached(sig, NULL, (const unsigned char *)index, strlen(index), sk) != 0) {
            r = kerr_msg(err, EIO, "cannot sign the index with %s", key);
            goto out;
        }
        if ((r = tar_put(fd, "index.sig", sig, sizeof sig)) < 0) {
            r = kerr_set(err, -r, "cannot write %s", out);
            goto out;
        }
    }
    if ((r = tar_put(fd, "manifest", rewritten, strlen(rewritten))) < 0) {
        r = kerr_set(err, -r, "cannot write %s", out);
        goto out;
    }
    for (size_t i = 0; lm.file && lm.file[i]; i++)
        if ((r = tar_put_file(fd, lm.member[i], lm.file[i], ix.e[i + 1].size, err)) < 0)
            goto out;
    if ((r = write_all(fd, tar_zeros, sizeof tar_zeros)) < 0 || (r = fsync(fd) < 0 ? -errno : 0) < 0)
        r = kerr_set(err, -r, "cannot write %s", out);
out:
    explicit_bzero(sk, sizeof sk);
    rm_tmp(tmp, &lm);
    strv_free(lm.src);
    strv_free(lm.file);
    strv_free(lm.member);
    if (r < 0 && fd >= 0)
        (void)unlink(out);
    return r;
}

static int write_hex(const char *path, const unsigned char *b, size_t n, mode_t mode, struct kerr *err)
{
    char hex[2 * crypto_sign_ed25519_SECRETKEYBYTES + 2];
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    hex[2 * n] = '\n';
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create %s", path);
    int r = write_all(fd, hex, 2 * n + 1);
    if (r < 0)
        return kerr_set(err, -r, "cannot write %s", path);
    return 0;
}

int bundle_keygen(const char *prefix, struct kerr *err)
{
    unsigned char pk[crypto_sign_ed25519_PUBLICKEYBYTES], sk[crypto_sign_ed25519_SECRETKEYBYTES];
    unsigned char seed[crypto_sign_ed25519_SEEDBYTES];
    /* getrandom without GRND_NONBLOCK: a key is never made before the
     * kernel's pool is initialised (it waits for it); at most 256 bytes
     * are read whole once it is, so only a signal cuts the read short. */
    size_t got = 0;
    for (int tries = 0; got < sizeof seed && tries < 100; tries++) {
        ssize_t n = getrandom(seed + got, sizeof seed - got, 0);
        if (n < 0 && errno != EINTR) {
            int e = errno;
            explicit_bzero(seed, sizeof seed);
            return kerr_set(err, e, "cannot read random bytes for an Ed25519 key pair");
        }
        if (n > 0)
            got += (size_t)n;
    }
    int kr = got == sizeof seed ? crypto_sign_ed25519_seed_keypair(pk, sk, seed) : -1;
    explicit_bzero(seed, sizeof seed);
    if (kr != 0) {
        explicit_bzero(sk, sizeof sk);
        return kerr_msg(err, EIO, "cannot generate an Ed25519 key pair");
    }
    _cleanup_free_ char *kp = xasprintf("%s.key", prefix), *pp = xasprintf("%s.pub", prefix);
    int r = (!kp || !pp) ? kerr_set(err, ENOMEM, "cannot name the key files") : 0;
    if (r == 0)
        r = write_hex(kp, sk, sizeof sk, 0600, err);
    if (r == 0)
        r = write_hex(pp, pk, sizeof pk, 0644, err);
    explicit_bzero(sk, sizeof sk);
    return r;
}
