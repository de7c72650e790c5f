/* import.c — `keel import` (import.h, docs/images.md).
 *
 * A source is a directory (an OCI image layout) or a tar (an OCI archive or
 * `docker save` output).  A tar is first staged member by member into
 * DEST/.import-PID (regular files under numbered names, symlinks as a table:
 * docker save links repeated layers), so both kinds are then read the same
 * way: "open the member at PATH".  Layers are keyed by the sha256 of the
 * blob as stored: it is the identity keel verifies from the very bytes it
 * extracts.  A DiffID (the digest of the uncompressed tar) would let one
 * layer be shared between a gzip and a plain copy, but keel would then have
 * to trust the config's claim until a second hash of the decompressed stream
 * — and a layer poisoned under another image's DiffID would be reused.
 */
#include "keel/import.h"
#include "keel/image.h"
#include "keel/json.h"
#include "keel/output.h"
#include "keel/parse.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* A warning on stderr, escaped (output_escape) whole: it may quote what an
 * image named (a member's path in a removal's error). */
__attribute__((format(printf, 1, 2))) static void import_warn(const char *fmt, ...)
{
    char raw[1024], esc[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = output_escape(raw, (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1, esc, sizeof esc);
    fprintf(stderr, "keel: warning: %.*s\n", (int)len, esc);
}

#define JSON_FILE_MAX (4 * 1024 * 1024)    /* index.json, manifests and configs */
#define JSON_NODES_MAX 200000
#define LINK_HOPS_MAX 8
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* --- the source: a layout directory or a staged tar ------------------------------ */

struct member {
    char *path;     /* clean member path */
    char *file;     /* staged file name, or NULL for a symlink */
    char *link;     /* a symlink's target as a clean member path */
};

struct source {
    int dirfd;              /* the layout, or the staging directory */
    bool staged;
    struct member *m;
    size_t n;
};

static void source_free(struct source *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->m[i].path);
        free(s->m[i].file);
        free(s->m[i].link);
    }
    free(s->m);
    close_safe(s->dirfd);
}

/* The target of a symlink member at PATH, as a clean member path. */
static char *link_target(const char *path, const char *target)
{
    if (target[0] == '/')
        return NULL;
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *joined = slash ? xasprintf("%.*s/%s", (int)(slash - path), path, target) : strdup(target);
    if (!joined)
        return NULL;
    /* Resolve ".." textually; it may not climb above the archive's root. */
    _cleanup_strv_ char **parts = NULL;
    char *save = NULL;
    for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            size_t n = strv_len(parts);
            if (n == 0 || !parts)
                return NULL;
            free(parts[n - 1]);
            parts[n - 1] = NULL;
            continue;
        }
        if (strv_push(&parts, c) < 0)
            return NULL;
    }
    size_t len = 1;
    for (size_t i = 0; parts && parts[i]; i++)
        len += strlen(parts[i]) + 1;
    char *out = calloc(1, len);
    for (size_t i = 0; out && parts && parts[i]; i++) {
        if (i)
            strcat(out, "/");
        strcat(out, parts[i]);
    }
    return out;
}

static int stage_tar(struct source *s, int destfd, const char *stage, const char *path,
                     const struct unpack_limits *lim, struct kerr *err)
{
    if (mkdirat(destfd, stage, 0700) < 0)
        return kerr_set(err, errno, "cannot create %s in the destination", stage);
    s->dirfd = openat(destfd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->dirfd < 0)
        return kerr_set(err, errno, "cannot open %s", stage);
    s->staged = true;
    struct archive *a = archive_read_new();
    if (!a)
        return kerr_set(err, ENOMEM, "cannot read %s", path);
    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    int ret = 0;
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        ret = kerr_msg(err, EINVAL, "cannot read %s: %s", path, archive_error_string(a));
        goto out;
    }
    uint64_t bytes = 0;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            ret = kerr_msg(err, EINVAL, "cannot read %s: %s", path, archive_error_string(a));
            goto out;
        }
        /* Every member's declared data counts, also what is only read past
         * (a directory's, a link's): it costs decompression, not disk. */
        int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
        if (size < 0 || bytes + (uint64_t)size > lim->max_bytes) {
            ret = kerr_msg(err, EFBIG, "cannot read %s: it passes the size limit of %llu bytes (--max-size)", path,
                           (unsigned long long)lim->max_bytes);
            goto out;
        }
        bytes += (uint64_t)size;
        const char *raw = archive_entry_pathname(e);
        _cleanup_free_ char *clean = raw ? strdup(raw) : NULL;
        if (!clean || unpack_clean_path(clean) < 0) {
            if (raw && (strcmp(raw, "./") == 0 || strcmp(raw, ".") == 0))
                continue;
            ret = kerr_msg(err, EINVAL, "cannot read %s: member %s has an absolute path or '..'", path, raw ? raw : "?");
            goto out;
        }
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR)
            continue;
        if (s->n >= lim->max_entries) {
            ret = kerr_msg(err, EFBIG, "cannot read %s: more than %llu members", path, (unsigned long long)lim->max_entries);
            goto out;
        }
        struct member *nm = realloc(s->m, (s->n + 1) * sizeof *nm);
        if (!nm) {
            ret = kerr_set(err, ENOMEM, "cannot read %s", path);
            goto out;
        }
        s->m = nm;
        struct member *m = &s->m[s->n];
        *m = (struct member){ .path = TAKE_PTR(clean) };
        s->n++;
        if (type == AE_IFLNK || archive_entry_hardlink(e)) {
            const char *t = archive_entry_hardlink(e);
            if (t) {
                _cleanup_free_ char *tc = strdup(t);
                m->link = tc && unpack_clean_path(tc) == 0 ? TAKE_PTR(tc) : NULL;
            } else {
                m->link = link_target(m->path, archive_entry_symlink(e) ? archive_entry_symlink(e) : "/");
            }
            if (!m->link) {
                ret = kerr_msg(err, EINVAL, "cannot read %s: link %s points outside the archive", path, m->path);
                goto out;
            }
            continue;
        }
        if (type != AE_IFREG) {
            ret = kerr_msg(err, EINVAL, "cannot read %s: member %s is not a file, directory or link", path, m->path);
            goto out;
        }
        m->file = xasprintf("m%zu", s->n);
        if (!m->file) {
            ret = kerr_set(err, ENOMEM, "cannot read %s", path);
            goto out;
        }
        _cleanup_close_ int fd = openat(s->dirfd, m->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            ret = kerr_set(err, errno, "cannot stage %s", m->path);
            goto out;
        }
        if (archive_read_data_into_fd(a, fd) != ARCHIVE_OK) {
            ret = kerr_msg(err, EINVAL, "cannot read %s: member %s: %s", path, m->path, archive_error_string(a));
            goto out;
        }
    }
out:
    archive_read_free(a);
    return ret;
}

/* Opens the member at PATH (a clean relative path) read-only. */
static int source_open(const struct source *s, const char *path, struct kerr *err)
{
    _cleanup_free_ char *p = strdup(path);
    if (!p)
        return kerr_set(err, ENOMEM, "cannot open %s", path);
    if (unpack_clean_path(p) < 0)
        return kerr_msg(err, EINVAL, "the image names %s: an absolute path or '..'", path);
    if (!s->staged) {
        /* Looked at before it is opened: a layout unpacked by root from a
         * hostile tar may hold a FIFO (an open that never returns) or a
         * device node (an open with the device's side effects: a
         * watchdog's arms it) under a name the image's JSON gives. */
        _cleanup_close_ int look = sys_openat2(s->dirfd, p, O_PATH | O_CLOEXEC, 0,
                                               RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (look < 0)
            return kerr_set(err, errno, "cannot open %s in the image", path);
        struct stat sb;
        if (fstat(look, &sb) < 0 || !S_ISREG(sb.st_mode))
            return kerr_msg(err, EINVAL, "%s in the image is not a regular file", path);
        char self[32];
        snprintf(self, sizeof self, "/proc/self/fd/%d", look);
        int fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return kerr_set(err, errno, "cannot open %s in the image", path);
        return fd;
    }
    for (int hop = 0; hop <= LINK_HOPS_MAX; hop++) {
        const struct member *found = NULL;
        for (size_t i = s->n; i-- > 0;)   /* the last member of a name wins, as tar extracts */
            if (strcmp(s->m[i].path, p) == 0) {
                found = &s->m[i];
                break;
            }
        if (!found)
            return kerr_msg(err, ENOENT, "the image names %s, which the archive does not hold", path);
        if (found->file) {
            int fd = openat(s->dirfd, found->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            return fd < 0 ? kerr_set(err, errno, "cannot open the staged %s", path) : fd;
        }
        free(p);
        p = strdup(found->link);
        if (!p)
            return kerr_set(err, ENOMEM, "cannot open %s", path);
    }
    return kerr_msg(err, ELOOP, "%s: too many links in the archive", path);
}

static bool source_has(const struct source *s, const char *path)
{
    int fd = source_open(s, path, NULL);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* --- digests -------------------------------------------------------------------- */

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* "sha256:HEX" -> HEX (65 bytes with NUL); -EINVAL for another algorithm or form. */
static int digest_hex(const char *digest, char out[65])
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71 ||
        strspn(digest + 7, "0123456789abcdef") != 64)
        return -EINVAL;
    memcpy(out, digest + 7, 65);
    return 0;
}

/* Reads a whole small member, checking its sha256 against WANT (hex, or NULL)
 * and its size against SIZE (-1: not declared). */
static int read_blob(const struct source *s, const char *path, const char *want, int64_t size, char **out,
                     size_t *len, struct kerr *err)
{
    _cleanup_close_ int fd = source_open(s, path, err);
    if (fd < 0)
        return fd;
    _cleanup_free_ char *buf = NULL;
    int r = read_fd_all(fd, JSON_FILE_MAX, &buf, len);
    if (r < 0)
        return kerr_set(err, -r, "cannot read %s in the image%s", path, r == -EFBIG ? " (over 4 MiB)" : "");
    if (size >= 0 && (uint64_t)size != *len)
        return kerr_msg(err, EINVAL, "%s in the image has %zu bytes, its descriptor says %lld", path, *len,
                        (long long)size);
    if (want) {
        unsigned char d[32];
        char h[65];
        if (mbedtls_sha256_ret((const unsigned char *)buf, *len, d, 0) != 0)
            return kerr_msg(err, EINVAL, "cannot hash %s", path);
        hex(d, 32, h);
        if (strcmp(h, want) != 0)
            return kerr_msg(err, EINVAL, "%s in the image does not match its digest sha256:%s (it is sha256:%s)",
                            path, want, h);
    }
    *out = TAKE_PTR(buf);
    return 0;
}

static int read_json(const struct source *s, const char *path, const char *want, int64_t size,
                     struct json_value **out, struct kerr *err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = read_blob(s, path, want, size, &buf, &len, err);
    if (r < 0)
        return r;
    r = json_parse_ex(buf, len, JSON_FILE_MAX, JSON_NODES_MAX, JSON_PARSE_FLOAT, out, err);
    if (r < 0)
        return kerr_prefix(err, "%s in the image is not valid JSON", path);
    return 0;
}

/* The plan readers' struct import_docs over a source. */
static int source_read_json(void *ctx, const char *path, const char *want, int64_t size, struct json_value **out,
                            struct kerr *err)
{
    return read_json(ctx, path, want, size, out, err);
}

/* --- one layer ------------------------------------------------------------------- */

struct hashed_reader {
    int fd;
    mbedtls_sha256_context sha;
    uint64_t total;
    uint64_t limit;          /* the declared size, or the file's */
    bool too_big;
    char buf[65536];
};

static la_ssize_t hashed_read(struct archive *a, void *user, const void **buf)
{
    struct hashed_reader *h = user;
    ssize_t n;
    do
        n = read(h->fd, h->buf, sizeof h->buf);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        archive_set_error(a, errno, "cannot read the blob");
        return -1;
    }
    if (h->total + (uint64_t)n > h->limit) {
        h->too_big = true;
        archive_set_error(a, EFBIG, "the blob holds more data than its declared size");
        return -1;
    }
    h->total += (uint64_t)n;
    if (mbedtls_sha256_update_ret(&h->sha, (const unsigned char *)h->buf, (size_t)n) != 0) {
        archive_set_error(a, EINVAL, "cannot hash the blob");
        return -1;
    }
    *buf = h->buf;
    return n;
}

/* Hashes what the archive reader left of the blob (a tar's padding). */
static int drain(struct hashed_reader *h)
{
    for (;;) {
        ssize_t n = read(h->fd, h->buf, sizeof h->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        if (h->total + (uint64_t)n > h->limit) {
            h->too_big = true;
            return -EFBIG;
        }
        h->total += (uint64_t)n;
        if (mbedtls_sha256_update_ret(&h->sha, (const unsigned char *)h->buf, (size_t)n) != 0)
            return -EINVAL;
    }
}

/* Extracts the layer blob at PATH (sha256 WANT, SIZE bytes or -1) into
 * layers/sha256-WANT unless it is there; *fresh says whether it was made. */
static int import_layer(const struct source *s, int layersfd, const char *path, const char *want, int64_t size,
                        const struct unpack_limits *lim, struct unpack_stats *st, bool *fresh, struct kerr *err)
{
    char final[80], tmp[128];
    snprintf(final, sizeof final, "sha256-%s", want);
    snprintf(tmp, sizeof tmp, ".tmp-%s-%d", final, (int)getpid());
    *fresh = false;
    struct stat sb;
    if (fstatat(layersfd, final, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return kerr_msg(err, EEXIST, "layers/%s exists and is not a directory", final);
        return 0;   /* final names appear only by rename: it is whole */
    }
    _cleanup_close_ int fd = source_open(s, path, err);
    if (fd < 0)
        return fd;
    if (fstat(fd, &sb) < 0)
        return kerr_set(err, errno, "cannot read %s", path);
    struct hashed_reader *h = calloc(1, sizeof *h);
    if (!h)
        return kerr_set(err, ENOMEM, "cannot read %s", path);
    h->fd = fd;
    h->limit = size >= 0 ? (uint64_t)size : (uint64_t)sb.st_size;
    mbedtls_sha256_init(&h->sha);
    int ret = 0;
    struct archive *a = NULL;
    _cleanup_close_ int dfd = -1;
    if (unpack_remove_tree(layersfd, tmp, err) < 0 || mkdirat(layersfd, tmp, 0755) < 0) {
        ret = kerr_set(err, errno, "cannot create layers/%s", tmp);
        goto out;
    }
    dfd = openat(layersfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 || mbedtls_sha256_starts_ret(&h->sha, 0) != 0) {
        ret = kerr_set(err, errno, "cannot open layers/%s", tmp);
        goto out;
    }
    a = archive_read_new();
    if (!a) {
        ret = kerr_set(err, ENOMEM, "cannot read %s", path);
        goto out;
    }
    /* Only what layers are: tar, gzip, zstd.  Never *_all (every format and
     * filter libarchive has, and the libraries they pull in). */
    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    struct kerr uerr = { 0 };
    int r = archive_read_open(a, h, NULL, hashed_read, NULL);
    if (r != ARCHIVE_OK)
        r = kerr_msg(&uerr, EINVAL, "cannot read layer %s: %s", path, archive_error_string(a));
    else
        r = unpack_layer(a, dfd, path, lim, st, &uerr);
    int dr = h->too_big ? -EFBIG : drain(h);
    unsigned char d[32];
    char got[65] = "";
    if (dr == 0 && mbedtls_sha256_finish_ret(&h->sha, d) == 0)
        hex(d, 32, got);
    if (h->too_big || dr == -EFBIG)
        ret = kerr_msg(err, EFBIG, "layer %s holds more data than its declared size (%lld bytes)", path, (long long)size);
    else if (dr < 0)
        ret = kerr_set(err, -dr, "cannot read layer %s", path);
    else if (strcmp(got, want) != 0)
        ret = kerr_msg(err, EINVAL, "layer %s does not match its digest sha256:%s (it is sha256:%s)", path, want, got);
    else if (r < 0) {
        *err = uerr;
        ret = r;
    } else if (size >= 0 && h->total != (uint64_t)size)
        ret = kerr_msg(err, EINVAL, "layer %s has %llu bytes, its descriptor says %lld", path,
                       (unsigned long long)h->total, (long long)size);
    if (ret == 0 && renameat(layersfd, tmp, layersfd, final) < 0) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            ret = 0;   /* another import made it first: it is as good */
        else
            ret = kerr_set(err, errno, "cannot rename layers/%s", tmp);
    } else if (ret == 0) {
        *fresh = true;
    }
out:
    if (a)
        archive_read_free(a);
    mbedtls_sha256_free(&h->sha);
    free(h);
    struct kerr rerr;
    if (fstatat(layersfd, tmp, &sb, AT_SYMLINK_NOFOLLOW) == 0 && unpack_remove_tree(layersfd, tmp, &rerr) < 0)
        import_warn("cannot remove layers/%s: %s", tmp, rerr.msg);
    return ret;
}

/* layers/sha256-HEX.erofs from layers/sha256-HEX with mkfs.erofs (fork and
 * exec, no shell), through a temporary name like the directories, unless it
 * is there; *fresh says whether it was made. */
static int make_erofs(int layersfd, const char *layers_dir, const char *hexd, bool *fresh, struct kerr *err)
{
    char final[96], tmp[128], dir[80];
    snprintf(dir, sizeof dir, "sha256-%s", hexd);
    snprintf(final, sizeof final, "sha256-%s.erofs", hexd);
    snprintf(tmp, sizeof tmp, ".tmp-%s-%d", final, (int)getpid());
    *fresh = false;
    if (faccessat(layersfd, final, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    _cleanup_free_ char *out = xasprintf("%s/%s", layers_dir, tmp);
    _cleanup_free_ char *src = xasprintf("%s/%s", layers_dir, dir);
    if (!out || !src)
        return kerr_set(err, ENOMEM, "cannot make %s", final);
    (void)unlinkat(layersfd, tmp, 0);   /* a leftover of a crashed import; ENOENT otherwise */
    pid_t pid = fork();
    if (pid < 0)
        return kerr_set(err, errno, "cannot run mkfs.erofs");
    if (pid == 0) {
        /* mkfs.erofs keeps xattrs (the opaque marks) and whiteouts by default. */
        char *argv[] = { (char *)"mkfs.erofs", (char *)"--quiet", out, src, NULL };
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0)
            (void)dup2(devnull, STDOUT_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "keel: error: cannot run mkfs.erofs: %s (Debian: apt-get install erofs-utils)\n",
                strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return kerr_set(err, errno, "cannot wait for mkfs.erofs");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        (void)unlinkat(layersfd, tmp, 0);
        return kerr_msg(err, EIO, "cannot make layers/%s: mkfs.erofs failed (status %d)", final,
                        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    if (renameat(layersfd, tmp, layersfd, final) < 0)
        return kerr_set(err, errno, "cannot rename layers/%s", tmp);
    *fresh = true;
    return 0;
}

/* --- the image's config ------------------------------------------------------------ */

/* A config string the .image can carry and a terminal can be shown: no C0
 * control but tab (a newline would end the line), no DEL, no C1 control
 * (U+0080..U+009F).  The image's text reaches the admin's terminal (keel
 * import's messages, keel check's, the console's), where an escape sequence
 * would be obeyed. */
static bool text_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return false;
    return true;
}

static int strv_from_json(const struct json_value *v, const char *what, char ***out, struct kerr *err)
{
    *out = NULL;
    if (!v || v->type == JSON_NULL)
        return 0;
    if (v->type != JSON_ARRAY)
        return kerr_msg(err, EINVAL, "the image config's %s is not a list of strings", what);
    char **list = calloc(1, sizeof *list);
    if (!list)
        return kerr_set(err, ENOMEM, "cannot read %s", what);
    for (size_t i = 0; i < v->u.arr.n; i++) {
        const struct json_value *it = &v->u.arr.items[i];
        if (it->type != JSON_STRING || !text_ok(it->u.str.s)) {
            strv_free(list);
            return kerr_msg(err, EINVAL, "the image config's %s holds a value that is not a one-line string without "
                            "control characters", what);
        }
        if (strv_push(&list, it->u.str.s) < 0) {
            strv_free(list);
            return kerr_set(err, ENOMEM, "cannot read %s", what);
        }
    }
    *out = list;
    return 0;
}

static int config_str(const struct json_value *cfg, const char *key, char **out, struct kerr *err)
{
    const struct json_value *v = json_get(cfg, key);
    if (!v || v->type == JSON_NULL || (v->type == JSON_STRING && !v->u.str.s[0]))
        return 0;
    if (v->type != JSON_STRING || !text_ok(v->u.str.s))
        return kerr_msg(err, EINVAL, "the image config's %s is not a one-line string without control characters", key);
    *out = strdup(v->u.str.s);
    return *out ? 0 : kerr_set(err, ENOMEM, "cannot read %s", key);
}

int import_read_config(const struct json_value *root, struct image *img, struct kerr *err)
{
    const struct json_value *cfg = json_get(root, "config");
    if (!cfg || cfg->type == JSON_NULL)
        return 0;
    if (cfg->type != JSON_OBJECT)
        return kerr_msg(err, EINVAL, "the image config's config is not an object");
    int r;
    if ((r = strv_from_json(json_get(cfg, "Entrypoint"), "Entrypoint", &img->entrypoint, err)) < 0 ||
        (r = strv_from_json(json_get(cfg, "Cmd"), "Cmd", &img->cmd, err)) < 0 ||
        (r = strv_from_json(json_get(cfg, "Env"), "Env", &img->env, err)) < 0 ||
        (r = config_str(cfg, "WorkingDir", &img->workdir, err)) < 0 || (r = config_str(cfg, "User", &img->user, err)) < 0)
        return r;
    for (size_t i = 0; img->env && img->env[i]; i++)
        if (!strchr(img->env[i], '=') || img->env[i][0] == '=')
            return kerr_msg(err, EINVAL, "the image config's Env entry '%s' is not NAME=VALUE", img->env[i]);
    if (img->workdir && img->workdir[0] != '/')
        return kerr_msg(err, EINVAL, "the image config's WorkingDir '%s' is not absolute", img->workdir);
    const struct json_value *ports = json_get(cfg, "ExposedPorts");
    if (ports && ports->type == JSON_OBJECT)
        for (size_t i = 0; i < ports->u.obj.n; i++) {
            /* Refused here, not when the .image is written after every layer. */
            if (!text_ok(ports->u.obj.members[i].key))
                return kerr_msg(err, EINVAL, "the image config's ExposedPorts has a key with a control character");
            if (strv_push(&img->expose, ports->u.obj.members[i].key) < 0)
                return kerr_set(err, ENOMEM, "cannot read ExposedPorts");
        }
    _cleanup_free_ char *sig = NULL;
    if ((r = config_str(cfg, "StopSignal", &sig, err)) < 0)
        return r;
    if (sig) {
        char why[PARSE_WHY_MAX] = "";
        if (parse_signal_anycase(sig, &img->stop_signal, why) < 0 || strcmp(signal_name(img->stop_signal), "SIG?") == 0)
            return kerr_msg(err, EINVAL, "the image config's StopSignal '%s': %s", sig, why);
    }
    return 0;
}

/* --- which image: OCI index or docker save's manifest.json ------------------------- */

void import_plan_free(struct import_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->layers[i].path);
    free(p->layers);
    free(p->ref);
    json_free(p->config);
}

static int add_layer(struct import_plan *p, char *path, const char *hexd, int64_t size, struct kerr *err)
{
    if (!path)
        return kerr_set(err, ENOMEM, "cannot read the image");
    if (p->n >= IMAGE_LAYERS_MAX) {
        free(path);
        return kerr_msg(err, EINVAL, "the image has more than %d layers", IMAGE_LAYERS_MAX);
    }
    struct import_layer *nl = realloc(p->layers, (p->n + 1) * sizeof *nl);
    if (!nl) {
        free(path);
        return kerr_set(err, ENOMEM, "cannot read the image");
    }
    p->layers = nl;
    p->layers[p->n] = (struct import_layer){ .path = path, .size = size };
    memcpy(p->layers[p->n].hex, hexd, 65);
    p->n++;
    return 0;
}

static int descriptor(const struct json_value *d, const char *what, char hexd[65], int64_t *size, struct kerr *err)
{
    if (!d || d->type != JSON_OBJECT || digest_hex(json_get_str(d, "digest"), hexd) < 0)
        return kerr_msg(err, EINVAL, "the image's %s has no sha256 digest (other algorithms are not supported)", what);
    if (!json_get_int(d, "size", size) || *size < 0)
        return kerr_msg(err, EINVAL, "the image's %s has no size", what);
    return 0;
}

static const char *ref_of(const struct json_value *desc)
{
    const struct json_value *ann = json_get(desc, "annotations");
    const char *full = json_get_str(ann, "io.containerd.image.name");
    return full ? full : json_get_str(ann, "org.opencontainers.image.ref.name");
}

/* --- which platform: an index's entries, the config's own ------------------------ */

/* A platform name as keel shows it: the image author's text only when it
 * is plain (no escape sequence reaches a terminal), else "?". */
static const char *plain(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    bool ok = n > 0 && n < IMPORT_PLATFORM_PART &&
              strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
    return ok ? s : "?";
}

/* *p from its parts (variant NULL or "": none), normalised (import.h);
 * -EINVAL when a part is missing or not plain. */
static int platform_set(struct import_platform *p, const char *os, const char *arch, const char *variant)
{
    if (plain(os) != os || plain(arch) != arch || (variant && variant[0] && plain(variant) != variant))
        return -EINVAL;
    strcpy(p->os, os);
    strcpy(p->arch, strcmp(arch, "aarch64") == 0                              ? "arm64"
                    : strcmp(arch, "x86_64") == 0 || strcmp(arch, "x86-64") == 0 ? "amd64"
                                                                               : arch);
    strcpy(p->variant, variant ? variant : "");
    /* Every arm64 is a v8 and every amd64 a v1: the baseline is no variant. */
    if ((strcmp(p->arch, "arm64") == 0 && (strcmp(p->variant, "v8") == 0 || strcmp(p->variant, "8") == 0)) ||
        (strcmp(p->arch, "amd64") == 0 && strcmp(p->variant, "v1") == 0))
        p->variant[0] = '\0';
    return 0;
}

int import_platform_parse(const char *s, struct import_platform *p, struct kerr *err)
{
    char buf[3 * sizeof p->os];
    char *part[4] = { buf, NULL, NULL, NULL };
    size_t n = 1;
    if (snprintf(buf, sizeof buf, "%s", s) < (int)sizeof buf)
        for (char *c = buf; *c && n < 4; c++)
            if (*c == '/') {
                *c = '\0';
                part[n++] = c + 1;
            }
    if (n < 2 || n > 3 || (part[2] && !part[2][0]) || platform_set(p, part[0], part[1], part[2]) < 0)
        return kerr_msg(err, EINVAL, "'%s' is not a platform OS/ARCH[/VARIANT] (such as " IMPORT_PLATFORM_NATIVE ")",
                        s);
    return 0;
}

static void platform_format(const struct import_platform *p, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

static bool platform_is(const struct import_platform *got, const struct import_platform *want)
{
    return strcmp(got->os, want->os) == 0 && strcmp(got->arch, want->arch) == 0 &&
           strcmp(got->variant, want->variant) == 0;
}

/* None of an index's platforms is WANT's: say which it has. */
static void no_platform(const struct json_value *ms, const struct import_platform *want, struct kerr *err)
{
    char w[100], have[240] = "";
    size_t len = 0, i = 0;
    platform_format(want, w, sizeof w);
    /* An entry takes at most 98 bytes: "?" for what is not plain. */
    for (; i < ms->u.arr.n && len + 100 < sizeof have; i++) {
        const struct json_value *pl = json_get(&ms->u.arr.items[i], "platform");
        const char *v = json_get_str(pl, "variant");
        len += (size_t)snprintf(have + len, sizeof have - len, "%s%s/%s%s%s", i ? ", " : "",
                                plain(json_get_str(pl, "os")), plain(json_get_str(pl, "architecture")),
                                v && v[0] ? "/" : "", v && v[0] ? plain(v) : "");
    }
    kerr_msg(err, EINVAL, "the image has no %s manifest, only %s%s (keel import --platform takes another)", w, have,
             i < ms->u.arr.n ? ", ..." : "");
}

/* The first entry of an index for WANT, else the first with no platform. */
static const struct json_value *pick_manifest(const struct json_value *index, const struct import_platform *want,
                                              struct kerr *err)
{
    const struct json_value *ms = json_get(index, "manifests");
    if (!ms || ms->type != JSON_ARRAY || ms->u.arr.n == 0) {
        kerr_msg(err, EINVAL, "index.json lists no manifest");
        return NULL;
    }
    const struct json_value *bare = NULL;
    for (size_t i = 0; i < ms->u.arr.n; i++) {
        const struct json_value *pl = json_get(&ms->u.arr.items[i], "platform");
        struct import_platform got;
        if (!pl || pl->type != JSON_OBJECT) {
            bare = bare ? bare : &ms->u.arr.items[i];
        } else if (platform_set(&got, json_get_str(pl, "os"), json_get_str(pl, "architecture"),
                                json_get_str(pl, "variant")) == 0 && platform_is(&got, want)) {
            return &ms->u.arr.items[i];
        }
    }
    if (!bare)
        no_platform(ms, want, err);
    return bare;
}

/* The config's os, architecture and variant, those it names, are WANT's:
 * an index entry says what the image is for, the config what it holds. */
static int check_config_platform(const struct json_value *cfg, const struct import_platform *want, struct kerr *err)
{
    const char *os = json_get_str(cfg, "os"), *arch = json_get_str(cfg, "architecture");
    const char *v = json_get_str(cfg, "variant");
    /* An empty name says as little as none. */
    os = os && os[0] ? os : want->os;
    arch = arch && arch[0] ? arch : want->arch;
    v = v && v[0] ? v : NULL;
    struct import_platform got;
    if (platform_set(&got, os, arch, v) == 0) {
        if (!v)
            memcpy(got.variant, want->variant, sizeof got.variant);
        if (platform_is(&got, want))
            return 0;
    }
    char w[100];
    platform_format(want, w, sizeof w);
    return kerr_msg(err, EINVAL, "the image is for %s/%s%s%s, not %s (keel import --platform takes another)", plain(os),
                    plain(arch), v ? "/" : "", v ? plain(v) : "", w);
}

int import_plan_oci(const struct import_docs *d, const struct import_platform *want, struct import_plan *p,
                    struct kerr *err)
{
    struct json_value *index = NULL;
    int r = d->read_json(d->ctx, "index.json", NULL, -1, &index, err);
    if (r < 0)
        return r;
    struct json_value *man = NULL;
    const struct json_value *desc = pick_manifest(index, want, err);
    const char *ref = desc ? ref_of(desc) : NULL;
    if (ref && !(p->ref = strdup(ref)))
        r = kerr_set(err, ENOMEM, "cannot read index.json");
    /* A nested index (a multi-platform image): one more level. */
    for (int depth = 0; r == 0 && desc && depth < 2; depth++) {
        int64_t size;
        char h[65];
        if ((r = descriptor(desc, "manifest", h, &size, err)) < 0)
            break;
        _cleanup_free_ char *path = xasprintf("blobs/sha256/%s", h);
        json_free(man);
        man = NULL;
        if (!path || (r = d->read_json(d->ctx, path, h, size, &man, err)) < 0)
            break;
        memcpy(p->digest, h, 65);
        if (!json_get(man, "manifests"))
            break;
        desc = pick_manifest(man, want, err);
        if (!desc)
            r = -EINVAL;
    }
    if (r == 0 && !desc)
        r = -EINVAL;
    if (r == 0 && json_get(man, "manifests"))
        r = kerr_msg(err, EINVAL, "index.json nests indexes deeper than two levels");
    if (r == 0) {
        int64_t size;
        char h[65];
        const struct json_value *layers = json_get(man, "layers");
        _cleanup_free_ char *cpath = NULL;
        if ((r = descriptor(json_get(man, "config"), "config", h, &size, err)) == 0 &&
            (cpath = xasprintf("blobs/sha256/%s", h)))
            r = d->read_json(d->ctx, cpath, h, size, &p->config, err);
        if (r == 0)
            r = check_config_platform(p->config, want, err);
        if (r == 0 && (!layers || layers->type != JSON_ARRAY))
            r = kerr_msg(err, EINVAL, "the image manifest has no list of layers");
        for (size_t i = 0; r == 0 && i < layers->u.arr.n; i++) {
            const struct json_value *l = &layers->u.arr.items[i];
            const char *mt = json_get_str(l, "mediaType");
            if (mt && strstr(mt, "nondistributable"))
                r = kerr_msg(err, EINVAL, "layer %zu is a foreign layer (%s): not in the archive", i, mt);
            else if ((r = descriptor(l, "layer", h, &size, err)) == 0)
                r = add_layer(p, xasprintf("blobs/sha256/%s", h), h, size, err);
        }
    }
    json_free(man);
    json_free(index);
    return r;
}

/* HEX of "blobs/sha256/HEX" or "HEX.json" / "HEX/layer.tar" style names. */
static int hex_of_path(const char *path, char hexd[65])
{
    const char *b = str_starts(path, "blobs/sha256/") ? path + 13 : path;
    if (strspn(b, "0123456789abcdef") != 64 || (b[64] && b[64] != '.' && b[64] != '/'))
        return -EINVAL;
    memcpy(hexd, b, 64);
    hexd[64] = '\0';
    return 0;
}

int import_plan_docker(const struct import_docs *d, const struct import_platform *want, struct import_plan *p,
                       struct kerr *err)
{
    struct json_value *list = NULL;
    int r = d->read_json(d->ctx, "manifest.json", NULL, -1, &list, err);
    if (r < 0)
        return r;
    const struct json_value *m = list->type == JSON_ARRAY && list->u.arr.n ? &list->u.arr.items[0] : NULL;
    const char *cpath = json_get_str(m, "Config");
    const struct json_value *layers = json_get(m, "Layers");
    const struct json_value *tags = json_get(m, "RepoTags");
    char h[65];
    if (!cpath || !layers || layers->type != JSON_ARRAY)
        r = kerr_msg(err, EINVAL, "manifest.json names no Config and Layers");
    else if (list->u.arr.n > 1)
        r = kerr_msg(err, EINVAL, "manifest.json holds %zu images; keel import takes one (docker save IMAGE)",
                     list->u.arr.n);
    else if (hex_of_path(cpath, h) < 0)
        r = kerr_msg(err, EINVAL, "manifest.json's Config %s is not named by its sha256", cpath);
    else
        r = d->read_json(d->ctx, cpath, h, -1, &p->config, err);
    if (r == 0)
        r = check_config_platform(p->config, want, err);
    if (r == 0) {
        memcpy(p->digest, h, 65);
        if (tags && tags->type == JSON_ARRAY && tags->u.arr.n && tags->u.arr.items[0].type == JSON_STRING &&
            !(p->ref = strdup(tags->u.arr.items[0].u.str.s)))
            r = kerr_set(err, ENOMEM, "cannot read manifest.json");
    }
    /* A legacy layer.tar is the uncompressed layer: its digest is the
     * config's DiffID.  Newer docker save names blobs by digest. */
    const struct json_value *rootfs = json_get(p->config, "rootfs");
    const struct json_value *diffs = json_get(rootfs, "diff_ids");
    for (size_t i = 0; r == 0 && i < layers->u.arr.n; i++) {
        const struct json_value *l = &layers->u.arr.items[i];
        if (l->type != JSON_STRING) {
            r = kerr_msg(err, EINVAL, "manifest.json's Layers holds a value that is not a path");
            break;
        }
        if (hex_of_path(l->u.str.s, h) < 0 || !str_starts(l->u.str.s, "blobs/")) {
            if (!diffs || diffs->type != JSON_ARRAY || diffs->u.arr.n != layers->u.arr.n ||
                diffs->u.arr.items[i].type != JSON_STRING || digest_hex(diffs->u.arr.items[i].u.str.s, h) < 0) {
                r = kerr_msg(err, EINVAL, "layer %s has no sha256 to check it against (no matching DiffID)",
                             l->u.str.s);
                break;
            }
        }
        char *path = strdup(l->u.str.s);
        r = path ? add_layer(p, path, h, -1, err) : kerr_set(err, ENOMEM, "cannot read manifest.json");
    }
    json_free(list);
    return r;
}

/* --- naming, the command's program, the .image file -------------------------------- */

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

char *import_name_from_ref(const char *ref)
{
    if (!ref)
        return NULL;
    const char *base = strrchr(ref, '/');
    base = base ? base + 1 : ref;
    _cleanup_free_ char *name = strdup(base);
    if (!name)
        return NULL;
    char *at = strchr(name, '@');
    if (at)
        *at = '\0';
    char *colon = strchr(name, ':');
    if (colon) {
        if (strcmp(colon + 1, "latest") == 0)
            *colon = '\0';
        else
            *colon = '-';
    }
    /* An OCI ref.name may be only a tag ("latest"): no image name in it. */
    if (!strchr(ref, ':') && !strchr(ref, '/') && strcmp(ref, "latest") == 0)
        return NULL;
    return valid_name(name) ? TAKE_PTR(name) : NULL;
}

/* Docker searches PATH in the container at run time; keel does not search
 * (a command is an absolute path), so a bare program name of the image is
 * resolved once here, over the extracted layers top first, honouring
 * whiteouts.  Left as it is when not found: the manifest then says so. */
static int resolve_program(int layersfd, char *const *layer_names, size_t n, char **argv0, char *const *env)
{
    if (!*argv0 || strchr(*argv0, '/') || !layer_names)
        return 0;
    const char *path = DEFAULT_PATH;
    for (size_t i = 0; env && env[i]; i++)
        if (str_starts(env[i], "PATH="))
            path = env[i] + 5;
    _cleanup_free_ char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        if (dir[0] != '/')
            continue;
        for (size_t l = 0; l < n; l++) {
            _cleanup_close_ int lfd = openat(layersfd, layer_names[l], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (lfd < 0)
                continue;
            _cleanup_close_ int dfd = sys_openat2(lfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_IN_ROOT);
            if (dfd < 0)
                continue;
            struct stat sb;
            if (fstatat(dfd, *argv0, &sb, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            if (S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0))
                break;   /* whited out: lower layers do not count for this directory */
            char *full = xasprintf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", *argv0);
            if (!full)
                return -ENOMEM;
            free(*argv0);
            *argv0 = full;
            return 1;
        }
    }
    return 0;
}

static int write_image(int destfd, const char *name, const struct image *img, struct kerr *err)
{
    _cleanup_free_ char *text = image_format(img);
    if (!text)
        return kerr_set(err, errno, "cannot write %s%s", name, IMAGE_SUFFIX);
    char final[256], tmp[300];
    snprintf(final, sizeof final, "%s%s", name, IMAGE_SUFFIX);
    snprintf(tmp, sizeof tmp, ".tmp-%s-%d", final, (int)getpid());
    _cleanup_close_ int fd = openat(destfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create %s", tmp);
    int r = write_all(fd, text, strlen(text));
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && renameat(destfd, tmp, destfd, final) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlinkat(destfd, tmp, 0);   /* best effort: the error below is the one to report */
        return kerr_set(err, -r, "cannot write %s", final);
    }
    return 0;
}

/* The .image this import will write, read back before any layer is
 * extracted: the config with N_LAYERS layer lines of the longest name, as
 * image_load will read it (a line or the file over the reader's limit), so
 * that a config the reader refuses refuses the import now, not the .image
 * nobody can load after it. */
static int config_fits_image(const struct image *cfg, size_t n_layers, struct kerr *err)
{
    char longest[] = "layers/sha256-0000000000000000000000000000000000000000000000000000000000000000.erofs";
    _cleanup_free_ char **layers = calloc(n_layers + 1, sizeof *layers);
    if (!layers)
        return kerr_set(err, ENOMEM, "cannot import");
    for (size_t i = 0; i < n_layers; i++)
        layers[i] = longest;
    char name[] = "x", digest[] = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    struct image probe = *cfg;
    probe.layers = layers;
    probe.name = name;
    probe.digest = digest;
    _cleanup_free_ char *text = image_format(&probe);
    if (!text)
        return kerr_set(err, errno, "cannot import");
    size_t len = strlen(text);
    if (len > IMAGE_FILE_MAX)
        return kerr_msg(err, EFBIG, "the image config is too large for a .image (%zu bytes, at most %d)", len,
                        IMAGE_FILE_MAX);
    struct image back;
    struct kerr why = { 0 };
    if (image_parse("the image config", "/", text, len, &back, &why) < 0)
        return kerr_msg(err, EINVAL, "the image config cannot be kept in a .image: %s", why.msg);
    image_free(&back);
    return 0;
}

/* --- what a refused import takes back -------------------------------------------- */

/* A refused import leaves DEST as it found it (as docker load and skopeo copy
 * do): the directories it made for DEST and DEST/layers, and the layers it
 * extracted, go again.  Nothing that was there before is touched, and no
 * symlink is followed: DEST is a path a user named, and the import may run
 * as root. */
struct made {
    size_t dest_at;     /* offset in DEST of the first directory this import made (strlen: none) */
    bool layers;        /* DEST/layers */
    char **fresh;       /* layer names it extracted or made: "sha256-HEX", "sha256-HEX.erofs" */
};

/* mkdir -p DEST (0755), noting in *at where the directories it made begin. */
static int make_dest(const char *dest, size_t *at)
{
    char buf[4096];
    size_t len = strlen(dest), start = 0;
    *at = len;
    if (str_copy(buf, sizeof buf, dest) < 0)
        return -ENAMETOOLONG;
    for (size_t i = 1; i <= len; i++) {
        if (buf[i - 1] == '/') {
            start = i;
            continue;
        }
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        int r = mkdir(buf, 0755);
        if (r < 0 && errno != EEXIST)
            return -errno;
        if (r == 0 && *at == len)
            *at = start;
        buf[i] = dest[i];
    }
    struct stat st;
    if (stat(dest, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* rmdir of the directories REL names below DIRFD, deepest first, each
 * reached from the one above with O_NOFOLLOW: stops at the first that is
 * gone, not empty (someone else's since) or not a directory. */
static void remove_made_dirs(int dirfd, const char *rel)
{
    char buf[4096], *name[64];
    int fd[65] = { dirfd };
    size_t n = 0;
    char *save = NULL;
    if (str_copy(buf, sizeof buf, rel) < 0)
        return;
    for (char *c = strtok_r(buf, "/", &save); c && n < ARRAY_SIZE(name); c = strtok_r(NULL, "/", &save)) {
        if ((fd[n + 1] = openat(fd[n], c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            break;
        name[n++] = c;
    }
    bool going = true;
    for (size_t i = n; i-- > 0;) {
        close(fd[i + 1]);
        going = going && unlinkat(fd[i], name[i], AT_REMOVEDIR) == 0;
    }
}

/* Whether a .image in DEST names NAME ("sha256-HEX") (another import reused it). */
static bool layer_in_use(int destfd, const char *name)
{
    int fd = openat(destfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        close_safe(fd);
        return true;   /* cannot tell: keep it */
    }
    bool used = false;
    struct dirent *e;
    while (!used && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= strlen(IMAGE_SUFFIX) || strcmp(e->d_name + l - strlen(IMAGE_SUFFIX), IMAGE_SUFFIX) != 0)
            continue;
        /* Never blocks on a FIFO put there; one it cannot read keeps the layer. */
        _cleanup_close_ int f = open_regular_nofollow_at(destfd, e->d_name, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *text = NULL;
        used = f < 0 || read_fd_all(f, JSON_FILE_MAX, &text, NULL) < 0 || strstr(text, name);
    }
    closedir(d);
    return used;
}

static int note_made(struct made *m, const char *hexd, const char *suffix)
{
    return strv_push_take(&m->fresh, xasprintf("sha256-%s%s", hexd, suffix));
}

/* Takes back what M says this import made in DEST (import_run's refusals). */
static void take_back(const char *dest, int destfd, int layersfd, const struct made *m)
{
    /* Every import holds a shared lock on DEST/layers: an exclusive one here
     * means none is between reusing a layer this one made and writing its
     * .image, and layer_in_use sees the .image files of those that did. */
    bool alone = layersfd >= 0 && flock(layersfd, LOCK_EX | LOCK_NB) == 0;
    if (!alone && m->fresh)
        import_warn("another import into %s is running: the layers this one extracted stay", dest);
    for (size_t i = 0; m->fresh && m->fresh[i]; i++) {
        struct kerr rerr;
        char layer[80];
        snprintf(layer, sizeof layer, "%.71s", m->fresh[i]);   /* "sha256-" and 64 digits, without ".erofs" */
        if (!alone || layer_in_use(destfd, layer))
            continue;
        if (unpack_remove_tree(layersfd, m->fresh[i], &rerr) < 0)
            import_warn("cannot remove %s/layers/%s: %s", dest, m->fresh[i], rerr.msg);
    }
    if (m->layers && unlinkat(destfd, "layers", AT_REMOVEDIR) < 0 && errno != ENOTEMPTY && errno != ENOENT)
        import_warn("cannot remove %s/layers: %s", dest, strerror(errno));
    if (dest[m->dest_at] == '\0')
        return;
    _cleanup_free_ char *parent = m->dest_at ? strndup(dest, m->dest_at) : strdup(".");
    _cleanup_close_ int pfd = parent ? open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    if (pfd >= 0)
        remove_made_dirs(pfd, dest + m->dest_at);
}

int import_run(const struct import_opts *o, char **image_path, struct kerr *err)
{
    *image_path = NULL;
    if (o->name && !valid_name(o->name))
        return kerr_msg(err, EINVAL, "'%s' is not an image name (letters, digits, '_', '.', '-')", o->name);
    struct stat sb;
    if (stat(o->source, &sb) < 0)
        return kerr_set(err, errno, "cannot read %s", o->source);
    struct made made = { 0 };
    int r = make_dest(o->dest, &made.dest_at);
    if (r < 0)
        return kerr_set(err, -r, "cannot create %s", o->dest);
    char stage[64];
    snprintf(stage, sizeof stage, ".import-%d", (int)getpid());
    struct source src = { .dirfd = -1 };
    struct import_plan p = { 0 };
    struct image img = { 0 };
    struct unpack_stats st = { 0 };
    char **names = NULL;
    size_t fresh_n = 0;
    _cleanup_free_ char *layers_dir = NULL;
    _cleanup_close_ int layersfd = -1;
    _cleanup_close_ int destfd = open(o->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (destfd < 0) {
        r = kerr_set(err, errno, "cannot open %s", o->dest);
        goto out;
    }
    made.layers = mkdirat(destfd, "layers", 0700) == 0;
    if (!made.layers && errno != EEXIST) {
        r = kerr_set(err, errno, "cannot create %s/layers", o->dest);
        goto out;
    }
    /* Shared: take_back's exclusive lock tells it no other import is running. */
    if ((layersfd = openat(destfd, "layers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        flock(layersfd, LOCK_SH) < 0) {
        r = kerr_set(err, errno, "cannot open %s/layers", o->dest);
        goto out;
    }
    /* The layers hold the image's setuid-root files and file capabilities as
     * root imported them: reachable by every user of the host, such a file
     * would be a way to root from outside any container (Docker keeps its
     * layers under a 0700 /var/lib/docker for the same reason).  Only the
     * owner (the importer; keel mounts them as root) may enter. */
    if (fchmod(layersfd, 0700) < 0) {
        r = kerr_set(err, errno, "cannot make %s/layers private", o->dest);
        goto out;
    }
    if (!(layers_dir = xasprintf("%s/layers", o->dest))) {
        r = kerr_set(err, ENOMEM, "cannot import");
        goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
        src.dirfd = open(o->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (src.dirfd < 0) {
            r = kerr_set(err, errno, "cannot open %s", o->source);
            goto out;
        }
    } else if ((r = stage_tar(&src, destfd, stage, o->source, &o->limits, err)) < 0) {
        goto out;
    }
    /* docker save of Docker 25 and later writes both: the OCI index has sizes. */
    const struct import_docs docs = { .read_json = source_read_json, .ctx = &src };
    r = source_has(&src, "index.json") ? import_plan_oci(&docs, &o->platform, &p, err)
                                       : import_plan_docker(&docs, &o->platform, &p, err);
    if (r < 0)
        goto out;
    if ((r = import_read_config(p.config, &img, err)) < 0 || (r = config_fits_image(&img, p.n, err)) < 0)
        goto out;
    for (size_t i = 0; i < p.n; i++) {
        bool fresh = false;
        r = import_layer(&src, layersfd, p.layers[i].path, p.layers[i].hex, p.layers[i].size, &o->limits, &st, &fresh, err);
        if (r < 0)
            goto out;
        if (fresh && note_made(&made, p.layers[i].hex, "") < 0)
            goto nomem;
        fresh_n += fresh;
        if (o->erofs && (r = make_erofs(layersfd, layers_dir, p.layers[i].hex, &fresh, err)) < 0)
            goto out;
        if (fresh && note_made(&made, p.layers[i].hex, ".erofs") < 0)
            goto nomem;
    }
    /* Top first, relative to DEST (image.h).  A layer listed twice (docker
     * save links repeats) is kept once, at its top place: that copy already
     * shows everything the lower one would, and overlayfs refuses a lower
     * directory given twice. */
    for (size_t i = p.n; i-- > 0;) {
        bool seen = false;
        for (size_t j = p.n; j-- > i + 1;)
            seen |= strcmp(p.layers[j].hex, p.layers[i].hex) == 0;
        if (seen)
            continue;
        char *dir = xasprintf("sha256-%s", p.layers[i].hex);
        char *rel = xasprintf("layers/sha256-%s%s", p.layers[i].hex, o->erofs ? ".erofs" : "");
        if (!dir || !rel || strv_push_take(&names, dir) < 0 || strv_push_take(&img.layers, rel) < 0) {
            free(rel);
            r = kerr_set(err, ENOMEM, "cannot import");
            goto out;
        }
    }
    if (!img.layers && (img.layers = calloc(1, sizeof(char *))) == NULL) {
        r = kerr_set(err, ENOMEM, "cannot import");
        goto out;
    }
    char **prog = img.entrypoint && img.entrypoint[0] ? &img.entrypoint[0] : img.cmd && img.cmd[0] ? &img.cmd[0] : NULL;
    if (prog && resolve_program(layersfd, names, strv_len(names), prog, img.env) == 0 && !strchr(*prog, '/'))
        import_warn("%s is not in the image's PATH: the manifest's command must name the program",
                *prog);
    img.name = o->name ? strdup(o->name) : import_name_from_ref(p.ref);
    if (!img.name)
        img.name = xasprintf("sha256-%.12s", p.digest);
    img.digest = xasprintf("sha256:%s", p.digest);
    if (!img.name || !img.digest) {
        r = kerr_set(err, ENOMEM, "cannot import");
        goto out;
    }
    *image_path = xasprintf("%s/%s%s", o->dest, img.name, IMAGE_SUFFIX);
    if (!*image_path)
        goto nomem;
    if ((r = write_image(destfd, img.name, &img, err)) < 0)
        goto out;
    if (st.owner_lost)
        import_warn("not root: the layers' files belong to you, not to the image's owners");
    if (st.xattrs_skipped)
        import_warn("%llu extended attributes outside user.* and security.capability were left out",
                (unsigned long long)st.xattrs_skipped);
    printf("%s: %zu layer%s (%zu new), %llu files, %llu bytes\n", img.name, p.n, p.n == 1 ? "" : "s", fresh_n,
           (unsigned long long)st.entries, (unsigned long long)st.bytes);
    r = 0;
    goto out;
nomem:
    r = kerr_set(err, ENOMEM, "cannot import");
out:
    if (src.staged) {
        struct kerr rerr;
        if (unpack_remove_tree(destfd, stage, &rerr) < 0)
            import_warn("cannot remove %s/%s: %s", o->dest, stage, rerr.msg);
    }
    if (r < 0) {
        free(*image_path);
        *image_path = NULL;
        take_back(o->dest, destfd, layersfd, &made);
    }
    strv_free(made.fresh);
    source_free(&src);
    import_plan_free(&p);
    image_free(&img);
    strv_free(names);
    return r;
}
