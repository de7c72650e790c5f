/* tls.c — the control channel's TLS configuration (tls.h). */
#include "keel/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>

#include "keel/util.h"

/* A CA bundle of a few hundred certificates fits; a file larger is a mistake. */
#define TLS_FILE_MAX (1u << 20)

/* Forward secrecy (ECDHE) and authenticated encryption only: no CBC (Lucky
 * Thirteen, padding oracles), no static RSA or DH key exchange, no plain DHE
 * (weak or slow groups).  mbedTLS 2.28 speaks TLS 1.2 at most; its TLS 1.3
 * is experimental and off in Debian's build, so 1.3 is not offered.  The
 * client offers the same list: a man in the middle cannot talk it down. */
static const int tls_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

const int *tls_ciphersuites(void)
{
    return tls_suites;
}

void tls_strerror(int ret, char *buf, size_t n)
{
    mbedtls_strerror(ret, buf, n);
}

#if defined(MBEDTLS_PLATFORM_GMTIME_R_ALT)
/* mbedTLS's calendar for certificate validity (x509_get_current_time; the
 * project's configuration asks for it, third_party/mbedtls-config.h): keel's
 * own arithmetic, since glibc's gmtime_r links its time zone code and with it
 * sscanf and the float parsers (utc_date_of).  NULL, as gmtime_r's EOVERFLOW,
 * where the year does not fit struct tm. */
struct tm *mbedtls_platform_gmtime_r(const mbedtls_time_t *tt, struct tm *tm_buf)
{
    struct utc_date d;
    utc_date_of((int64_t)*tt, &d);
    if (d.year - 1900 < INT_MIN || d.year - 1900 > INT_MAX)
        return NULL;
    *tm_buf = (struct tm){
        .tm_year = (int)(d.year - 1900), .tm_mon = d.mon - 1, .tm_mday = d.mday,
        .tm_hour = d.hour, .tm_min = d.min, .tm_sec = d.sec,
        .tm_wday = d.wday, .tm_yday = d.yday, .tm_zone = "GMT",
    };
    return tm_buf;
}
#endif

/* Reads PATH whole for LABEL's message.  The server (PID 1, at its start)
 * reads as the manifest is read (read_regular_file): a FIFO put there is
 * refused at once instead of holding PID 1 in a blocking open for ever.  The
 * client reads what it is given, a pipe too (--tlskey <(...)).  The buffer
 * ends with a NUL one past *len: PEM parsing needs it counted. */
static int read_tls_file(bool server, const char *label, const char *path, char **buf, size_t *len,
                         struct kerr *err)
{
    int r = server ? read_regular_file(path, TLS_FILE_MAX, buf, len)
                   : read_file_at(AT_FDCWD, path, TLS_FILE_MAX, buf, len);
    if (r == -EINVAL)
        return kerr_msg(err, EINVAL, "%s: %s is not a regular file", label, path);
    if (r == -EFBIG)
        return kerr_msg(err, EFBIG, "%s: cannot read %s: larger than 1 MiB", label, path);
    if (r < 0)
        return kerr_msg(err, -r, "%s: cannot read %s: %s", label, path, strerror(-r));
    return 0;
}

static int load_cert(mbedtls_x509_crt *crt, bool server, const char *label, const char *path, struct kerr *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = read_tls_file(server, label, path, &buf, &len, err);
    if (r < 0)
        return r;
    if ((r = mbedtls_x509_crt_parse(crt, (const unsigned char *)buf, len + 1)) != 0) {
        char msg[160];
        tls_strerror(r, msg, sizeof msg);
        return kerr_msg(err, EINVAL, "cannot load %s %s: %s", label, path, msg);
    }
    return 0;
}

/* The key's bytes are wiped once parsed: a secret is not left in freed heap. */
static int load_key(mbedtls_pk_context *key, bool server, const char *label, const char *path, struct kerr *err)
{
    char *buf = NULL;
    size_t len = 0;
    int r = read_tls_file(server, label, path, &buf, &len, err);
    if (r < 0)
        return r;
    r = mbedtls_pk_parse_key(key, (const unsigned char *)buf, len + 1, NULL, 0);
    explicit_bzero(buf, len);
    free(buf);
    if (r != 0) {
        char msg[160];
        tls_strerror(r, msg, sizeof msg);
        return kerr_msg(err, EINVAL, "cannot load %s %s: %s", label, path, msg);
    }
    return 0;
}

int tls_conf_init(struct tls_conf *t, bool server, const struct tls_files *f, struct kerr *err)
{
    char msg[160];
    int r;
    if (t->ready)
        return 0;
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_pk_init(&t->key);
    t->ready = true;
    if ((r = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                   (const unsigned char *)"keel-control", 12)) != 0) {
        tls_strerror(r, msg, sizeof msg);
        return kerr_msg(err, EIO, "cannot seed the TLS random generator: %s", msg);
    }
    if ((r = load_cert(&t->cert, server, f->cert_label, f->cert, err)) < 0)
        return r;
    if ((r = load_key(&t->key, server, f->key_label, f->key, err)) < 0)
        return r;
    if (server && mbedtls_pk_check_pair(&t->cert.pk, &t->key) != 0)
        return kerr_msg(err, EINVAL, "cannot use %s %s: it does not match %s %s", f->key_label, f->key,
                        f->cert_label, f->cert);
    if ((r = load_cert(&t->ca, server, f->ca_label, f->ca, err)) < 0)
        return r;
    if ((r = mbedtls_ssl_config_defaults(&t->conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        tls_strerror(r, msg, sizeof msg);
        return kerr_msg(err, EIO, "cannot configure TLS: %s", msg);
    }
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&t->conf, tls_suites);
    /* Mutual TLS: a peer without a certificate chaining to the CA fails the
     * handshake (the client checks the server's name itself, after it). */
    mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    if ((r = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0) {
        tls_strerror(r, msg, sizeof msg);
        return kerr_msg(err, EINVAL, "cannot use %s %s: %s", f->cert_label, f->cert, msg);
    }
    return 0;
}

void tls_conf_free(struct tls_conf *t)
{
    if (!t->ready)
        return;
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_x509_crt_free(&t->cert);
    mbedtls_x509_crt_free(&t->ca);
    mbedtls_pk_free(&t->key);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    t->ready = false;
}
