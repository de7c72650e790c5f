/* control_cp.c — keel cp: a regular file out of or into a running container
 * (docs/control.md "cp").
 *
 *   {"op":"cp_get","name":N,"path":P}     -> {"ok":true,"op":"cp_get","size":S,"mode":M}
 *   {"op":"chunk"}                         -> {"ok":true,"op":"chunk","data":"BASE64"} | {...,"eof":true}
 *   {"op":"cp_put","name":N,"path":P,"mode":M} -> {"ok":true,"op":"cp_put"}
 *   {"op":"chunk","data":"BASE64"}         -> {"ok":true,"op":"chunk"}     (repeated)
 *   {"op":"chunk","eof":true}              -> {"ok":true,"op":"chunk","size":S}
 *
 * Each chunk is answered before the next is asked for, so PID 1 holds at
 * most one chunk (CP_CHUNK bytes, one request or answer line) of a file.
 *
 * Resolution: the container's root is /proc/PID/root of its first process,
 * opened as a dirfd; the path is resolved from it with openat2(RESOLVE_IN_ROOT
 * | RESOLVE_NO_MAGICLINKS), so `..` and absolute symlinks stop at the
 * container's root, as they do for the container itself, and /proc magic
 * links (which could lead to any process's root) are refused.  Mount points
 * inside the container (its volumes, tmpfs) are crossed: they are what the
 * container sees at that path.  The file itself must be regular, and not on a
 * kernel pseudo file system, such as proc or sysfs: keel is host root here, and
 * the container's /proc/kcore is a "regular" file.  The object found is first
 * opened O_PATH and checked, then reopened, so a FIFO or a device node is
 * never opened (which could block PID 1 or have side effects).
 *
 * Writing: a temporary name in the target's directory is created O_EXCL |
 * O_NOFOLLOW, owned by the container's root (uid and gid 0 mapped through its
 * user namespace), mode the client's permission bits (setuid, setgid and
 * sticky dropped), and renamed over the target after the last chunk: a
 * cancelled or failed copy leaves the old file untouched and removes the
 * temporary one.  A target that is a directory is refused.
 *
 * Both directions are bounded by CP_MAX.  The read and write syscalls run in
 * PID 1's loop, one chunk at a time on a local file system.
 */
#include "keel/control_conn.h"
#include "keel/caps.h"
#include "keel/util.h"
#include "keel/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/fsuid.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CP_RESOLVE (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

struct conn_cp {
    bool put;
    int fd;                  /* get: the file; put: the temporary file */
    int dirfd;               /* put: the target's directory */
    char tmp[64];            /* put: the temporary name in dirfd */
    char base[256];          /* put: the target's name in dirfd */
    uint64_t done;
};

static void cp_free(struct conn *cn, bool remove_tmp)
{
    struct conn_cp *cp = cn->cp;
    if (!cp)
        return;
    if (cp->put && remove_tmp && cp->dirfd >= 0 && cp->tmp[0] && unlinkat(cp->dirfd, cp->tmp, 0) < 0)
        log_warn("cp: cannot remove %s: %s", cp->tmp, strerror(errno));
    close_safe(cp->fd);
    close_safe(cp->dirfd);
    free(cp);
    cn->cp = NULL;
}

void control_cp_stop(struct conn *cn)
{
    if (cn->cp && cn->cp->put)
        log_warn("cp: the client went away before the end of the file: nothing changed");
    cp_free(cn, true);
}

static void cp_error(struct conn *cn, const char *op, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cp_error(struct conn *cn, const char *op, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bool streaming = cn->cp != NULL;
    cp_free(cn, true);
    if (streaming)
        control_conn_fail(cn, op, msg);   /* the client may be mid-stream: close */
    else
        control_error_line(&cn->out, op, msg);
}

/* Kernel file systems whose "regular" files are views of the kernel or of
 * other processes, not container data. */
static bool pseudo_fs(int fd)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0)
        return true;
    switch ((unsigned long)sf.f_type) {
    case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC: case BPF_FS_MAGIC:
    case DEVPTS_SUPER_MAGIC: case EFIVARFS_MAGIC: case PSTOREFS_MAGIC:
        return true;
    default:
        return false;
    }
}

/* The container's root as a dirfd, and the host ids of its root user. */
static int open_root(struct conn *cn, const char *op, const char *name, uid_t *uid, gid_t *gid)
{
    const struct control_backend *be = &cn->c->be;
    int i = be->find(be->sup, name);
    if (i < 0) {
        cp_error(cn, op, "no container named %s", name);
        return -1;
    }
    struct container_status st;
    be->status(be->sup, (size_t)i, &st);
    if (st.pid <= 0) {
        cp_error(cn, op, "cannot copy: container %s is not running", name);
        return -1;
    }
    *uid = 0;
    for (size_t k = 0; k < st.n_userns_map; k++)
        if (st.userns_map[k].inside == 0 && st.userns_map[k].count > 0)
            *uid = st.userns_map[k].outside;
    *gid = (gid_t)*uid;   /* keel maps uids and gids alike (idmap.h) */
    /* st.pid is keel's own unreaped child and this runs in keel's only
     * thread: the pid cannot be reused before the open below. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%d/root", (int)st.pid);
    int fd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        cp_error(cn, op, "cannot open the root of container %s: %s", name, strerror(errno));
    return fd;
}

/* Reopens an O_PATH fd for reading, once it was found to be a regular file.
 * Non-blocking: the container's root may hold a lease on its file
 * (F_SETLEASE), and a blocking open would hold PID 1 until the lease is
 * given up or fs.lease-break-time (45 s) ends it; this open fails at once
 * (EWOULDBLOCK). */
static int reopen(int pathfd, int flags)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", pathfd);
    return open(self, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

static void get_start(struct conn *cn, const struct proto_request *req)
{
    uid_t uid;
    gid_t gid;
    _cleanup_close_ int root = open_root(cn, "cp_get", req->name, &uid, &gid);
    if (root < 0)
        return;
    _cleanup_close_ int pfd = sys_openat2(root, req->path, O_PATH | O_CLOEXEC, 0, CP_RESOLVE);
    if (pfd < 0) {
        cp_error(cn, "cp_get", "cannot open %s:%s: %s", req->name, req->path, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(pfd, &st) < 0) {
        cp_error(cn, "cp_get", "cannot stat %s:%s: %s", req->name, req->path, strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        cp_error(cn, "cp_get", "cannot copy %s:%s: it is a directory (keel cp copies regular files)", req->name,
                 req->path);
        return;
    }
    if (!S_ISREG(st.st_mode) || pseudo_fs(pfd)) {
        cp_error(cn, "cp_get", "cannot copy %s:%s: not a regular file", req->name, req->path);
        return;
    }
    if ((uint64_t)st.st_size > CP_MAX) {
        cp_error(cn, "cp_get", "cannot copy %s:%s: larger than %llu bytes", req->name, req->path,
                 (unsigned long long)CP_MAX);
        return;
    }
    int fd = reopen(pfd, O_RDONLY);
    if (fd < 0) {
        cp_error(cn, "cp_get", "cannot open %s:%s: %s", req->name, req->path,
                 errno == EWOULDBLOCK ? "a process of the container holds a lease on it" : strerror(errno));
        return;
    }
    struct conn_cp *cp = calloc(1, sizeof *cp);
    if (!cp) {
        close_safe(fd);
        cp_error(cn, "cp_get", "cannot copy: out of memory");
        return;
    }
    cp->fd = fd;
    cp->dirfd = -1;
    cn->cp = cp;
    control_reply_begin(&cn->out, "cp_get", true);
    json_kuint(&cn->out, "size", (uint64_t)st.st_size);
    json_kint(&cn->out, "mode", st.st_mode & 0777);
    control_reply_end(&cn->out);
}

static void get_chunk(struct conn *cn)
{
    struct conn_cp *cp = cn->cp;
    static unsigned char buf[CP_CHUNK];
    ssize_t n;
    do
        n = read(cp->fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        cp_error(cn, "chunk", "cannot read the file: %s", strerror(errno));
        return;
    }
    if (n > 0 && cp->done + (uint64_t)n > CP_MAX) {
        cp_error(cn, "chunk", "the file grew past %llu bytes", (unsigned long long)CP_MAX);
        return;
    }
    cp->done += (uint64_t)n;
    control_reply_begin(&cn->out, "chunk", true);
    if (n > 0) {
        json_key(&cn->out, "data");
        json_base64(&cn->out, buf, (size_t)n);
    } else {
        json_kbool(&cn->out, "eof", true);
        cp_free(cn, false);
    }
    control_reply_end(&cn->out);
}

/* Creates NAME in DFD as the container's root (fsuid/fsgid UID:GID): a file
 * created on an idmapped mount (a userns container's upper directory) must
 * have an owner the mount's map can store, else EOVERFLOW.  setfsuid() drops
 * the file capabilities from the effective set: they are raised again for
 * the create (host root's access, as for the rest of cp), and keel's own ids
 * are restored after it. */
static int create_as(int dfd, const char *name, uid_t uid, gid_t gid)
{
    setfsgid(gid);
    setfsuid(uid);
    int fd = -1, e = EPERM;
    struct kerr err = { 0 };
    if ((uid_t)setfsuid((uid_t)-1) == uid && (gid_t)setfsgid((gid_t)-1) == gid && caps_raise_effective(&err) == 0) {
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        e = errno;
    } else if (err.msg[0]) {
        e = err.code ? err.code : EPERM;
    }
    setfsuid(geteuid());
    setfsgid(getegid());
    if ((uid_t)setfsuid((uid_t)-1) != geteuid() || (gid_t)setfsgid((gid_t)-1) != getegid())
        log_error("cp: cannot restore keel's file system ids");
    errno = e;
    return fd;
}

static void put_start(struct conn *cn, const struct proto_request *req)
{
    /* The target's directory and its last component. */
    char dir[PATH_MAX];
    size_t len = strlen(req->path);
    if (req->path[len - 1] == '/') {
        cp_error(cn, "cp_put", "cannot copy to %s:%s: name the file, not a directory", req->name, req->path);
        return;
    }
    const char *slash = strrchr(req->path, '/');
    const char *base = slash ? slash + 1 : req->path;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strlen(base) >= sizeof ((struct conn_cp *)0)->base) {
        cp_error(cn, "cp_put", "cannot copy to %s:%s: name the file, not a directory", req->name, req->path);
        return;
    }
    if (!slash)
        strcpy(dir, ".");
    else if (slash == req->path)
        strcpy(dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - req->path), req->path);

    uid_t uid;
    gid_t gid;
    _cleanup_close_ int root = open_root(cn, "cp_put", req->name, &uid, &gid);
    if (root < 0)
        return;
    _cleanup_close_ int dfd = sys_openat2(root, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, CP_RESOLVE);
    if (dfd < 0) {
        cp_error(cn, "cp_put", "cannot open directory %s:%s: %s", req->name, dir, strerror(errno));
        return;
    }
    if (pseudo_fs(dfd)) {
        cp_error(cn, "cp_put", "cannot copy to %s:%s: not a regular file system", req->name, req->path);
        return;
    }
    struct stat st;
    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        cp_error(cn, "cp_put", "cannot copy to %s:%s: it is a directory (name the file)", req->name, req->path);
        return;
    }
    struct conn_cp *cp = calloc(1, sizeof *cp);
    if (!cp) {
        cp_error(cn, "cp_put", "cannot copy: out of memory");
        return;
    }
    static unsigned seq;
    snprintf(cp->tmp, sizeof cp->tmp, ".keel-cp.%u.%u", (unsigned)getpid(), ++seq);
    strcpy(cp->base, base);
    cp->put = true;
    cp->fd = create_as(dfd, cp->tmp, uid, gid);
    if (cp->fd < 0) {
        int e = errno;
        free(cp);
        cp_error(cn, "cp_put", "cannot create a file in %s:%s: %s", req->name, dir, strerror(e));
        return;
    }
    cp->dirfd = TAKE_FD(dfd);
    cn->cp = cp;
    /* Owner first: chown clears setuid/setgid, and the mode has none. */
    mode_t mode = req->mode >= 0 ? (mode_t)req->mode & 0777 : 0644;
    if (fchown(cp->fd, uid, gid) < 0 || fchmod(cp->fd, mode) < 0) {
        cp_error(cn, "cp_put", "cannot set the owner or mode of the new file: %s", strerror(errno));
        return;
    }
    control_reply_begin(&cn->out, "cp_put", true);
    control_reply_end(&cn->out);
}

static void put_chunk(struct conn *cn, const struct proto_request *req)
{
    struct conn_cp *cp = cn->cp;
    if (req->data_len) {
        _cleanup_free_ unsigned char *buf = malloc(req->data_len / 4 * 3 + 3);
        long n = buf ? json_base64_decode(req->data, req->data_len, buf) : -ENOMEM;
        if (n < 0) {
            cp_error(cn, "chunk", "malformed request: bad base64 in \"data\"");
            return;
        }
        if (cp->done + (uint64_t)n > CP_MAX) {
            cp_error(cn, "chunk", "the file is larger than %llu bytes", (unsigned long long)CP_MAX);
            return;
        }
        for (long off = 0; off < n;) {
            ssize_t w = write(cp->fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                cp_error(cn, "chunk", "cannot write the file: %s", strerror(errno));
                return;
            }
            off += w;
        }
        cp->done += (uint64_t)n;
    }
    if (!req->eof) {
        control_reply_begin(&cn->out, "chunk", true);
        control_reply_end(&cn->out);
        return;
    }
    if (renameat(cp->dirfd, cp->tmp, cp->dirfd, cp->base) < 0) {
        cp_error(cn, "chunk", "cannot rename the new file to %s: %s", cp->base, strerror(errno));
        return;
    }
    uint64_t size = cp->done;
    cp_free(cn, false);
    control_reply_begin(&cn->out, "chunk", true);
    json_kuint(&cn->out, "size", size);
    control_reply_end(&cn->out);
}

void control_cp_request(struct conn *cn, const struct proto_request *req)
{
    const char *op = proto_op_name(req->op);
    if (cn->cp) {
        if (req->op != PROTO_OP_CHUNK)
            cp_error(cn, op, "malformed request: only chunk is accepted during cp");
        else if (cn->cp->put)
            put_chunk(cn, req);
        else if (req->data_len || req->eof)
            cp_error(cn, op, "malformed request: a chunk request of cp_get carries no data");
        else
            get_chunk(cn);
        return;
    }
    if (!control_conn_is_admin(cn)) {
        control_error_line(&cn->out, op, "permission denied: only root may copy files of a container");
        return;
    }
    if (req->op == PROTO_OP_CP_GET)
        get_start(cn, req);
    else
        put_start(cn, req);
}
