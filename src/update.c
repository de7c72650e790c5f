/* update.c — keel update's slots: boot selection, the confirm window and
 * bundle installation.  See update.h. */
#include "keel/update.h"
#include "keel/bundle.h"
#include "keel/log.h"
#include "keel/supervise.h"
#include "keel/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WATCH_TICK_MS 500

/* The update volume's root, opened; -ENOTSUP without update_volume. */
static int open_volume(const struct manifest *m, struct kerr *err)
{
    const char *name = m->system.update_volume;
    if (!name)
        return kerr_msg(err, ENOTSUP, "this manifest has no [system] update_volume: keel update is off");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", MANIFEST_VOLUMES_DIR, name);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open the update volume %s", path);
    return fd;
}

/* UPDATE_STATUS_FILE: "slot-state lines" + "last OUTCOME" for keel status. */
static void record(const struct slot_state *s, const char *last)
{
    char st[SLOT_STATE_MAX], buf[SLOT_STATE_MAX + 512];
    if (slot_state_format(s, st, sizeof st) < 0)
        return;
    _cleanup_free_ char *old = NULL;
    if (!last && read_file_at(AT_FDCWD, UPDATE_STATUS_FILE, 4096, &old, NULL) == 0) {
        char *l = strstr(old, "last ");
        if (l) {
            char *nl = strchr(l, '\n');
            if (nl)
                *nl = '\0';
            last = l + 5;
        }
    }
    snprintf(buf, sizeof buf, "%slast %s\n", st, last ? last : "-");
    _cleanup_close_ int fd = open(UPDATE_STATUS_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    int r = fd < 0 ? -errno : write_all(fd, buf, strlen(buf));
    if (r < 0)
        log_warn("cannot write %s: %s", UPDATE_STATUS_FILE, strerror(-r));
}

static int save(int vfd, const struct slot_state *s, const char *last, struct kerr *err)
{
    int r = slot_state_save(vfd, s, err);
    if (r < 0)
        return kerr_prefix(err, "update volume");
    record(s, last);
    return 0;
}

int update_boot_select(const struct manifest *m, struct slot_state *state, char **path, struct kerr *err)
{
    *path = NULL;
    memset(state, 0, sizeof *state);
    if (!m->system.update_volume)
        return 0;
    _cleanup_close_ int vfd = open_volume(m, err);
    if (vfd < 0)
        return vfd;
    struct slot_state s;
    int r = slot_state_load(vfd, &s, err);
    if (r < 0)
        return r;
    if ((r = mkdir_p("/run/keel", 0700)) < 0)   /* before keel's own setup makes it */
        return kerr_set(err, -r, "cannot create /run/keel");
    struct slot_state before = s;
    (void)slot_step(&s, SLOT_EV_BOOT);   /* never refused */
    char last[128] = "";
    if (before.trying != SLOT_NONE && s.trying == SLOT_NONE) {
        snprintf(last, sizeof last, "rollback: slot %s did not commit before this boot; slot %s runs",
                 slot_name(before.trying), slot_name(s.active));
        log_error("update: %s", last);
    } else if (before.trying != SLOT_NONE) {
        snprintf(last, sizeof last, "trying slot %s (commit after %llu ms of health)", slot_name(s.trying),
                 (unsigned long long)m->system.update_confirm_ms);
        log_stage("update: %s", last);
    }
    if (memcmp(&s, &before, sizeof s) != 0) {
        if ((r = save(vfd, &s, last[0] ? last : NULL, err)) < 0)
            return r;
    } else {
        record(&s, NULL);
    }
    *state = s;
    enum slot cur = slot_current(&s);
    if (cur == SLOT_NONE)
        return 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s/slots/%s", MANIFEST_VOLUMES_DIR, m->system.update_volume, slot_name(cur));
    if (unlink(BUNDLE_SLOT_LINK) < 0 && errno != ENOENT)
        return kerr_set(err, errno, "cannot remove %s", BUNDLE_SLOT_LINK);
    if (symlink(dir, BUNDLE_SLOT_LINK) < 0)
        return kerr_set(err, errno, "cannot link %s to %s", BUNDLE_SLOT_LINK, dir);
    if (!(*path = xasprintf("%s/manifest", dir)))
        return kerr_set(err, ENOMEM, "cannot name the slot's manifest");
    log_stage("update: slot %s runs (%s)", slot_name(cur), *path);
    return 1;
}

static int change(const struct manifest *m, enum slot_event ev, const char *last, struct kerr *err)
{
    _cleanup_close_ int vfd = open_volume(m, err);
    if (vfd < 0)
        return vfd;
    struct slot_state s;
    int r = slot_state_load(vfd, &s, err);
    if (r < 0)
        return r;
    if ((r = slot_step(&s, ev)) < 0)
        return kerr_msg(err, -r, "cannot %s: %s", slot_event_name(ev),
                        r == -EBUSY ? "an update is being tried" : s.trying == SLOT_NONE ? "nothing to go back to"
                                                                                          : "not allowed now");
    return save(vfd, &s, last, err);
}

int update_fail(const struct manifest *m, const char *why, struct kerr *err)
{
    char last[256];
    snprintf(last, sizeof last, "rollback: %s", why);
    log_error("update: %s", last);
    return change(m, SLOT_EV_FAIL, last, err);
}

int update_rollback(const struct manifest *m, struct kerr *err)
{
    log_info("update: rollback requested");
    return change(m, SLOT_EV_ROLLBACK, "rollback: requested with keel rollback", err);
}

/* --- the confirm window ------------------------------------------------------- */

struct update_watch {
    struct loop *loop;
    struct supervisor *sup;
    const struct manifest *m;
    update_done_cb done;
    void *data;
    uint64_t deadline_ms;
    int64_t timer;
    bool decided;
    enum slot slot;          /* the one being tried */
};

static void decide(struct update_watch *w, bool commit, const char *why)
{
    if (w->decided)
        return;
    w->decided = true;
    if (w->timer > 0)
        loop_cancel_timer(w->loop, w->timer);
    w->timer = 0;
    struct kerr e = { 0 };
    int r;
    if (commit) {
        char last[256];
        snprintf(last, sizeof last, "commit: %s", why);
        r = change(w->m, SLOT_EV_COMMIT, last, &e);
        if (r == 0)
            log_stage("update: %s", last);
    } else {
        r = update_fail(w->m, why, &e);
    }
    if (r < 0) {
        /* The state still says trying: the next boot rolls back. */
        log_error("update: %s", e.msg);
        commit = false;
    }
    char name[16], detail[300];
    snprintf(name, sizeof name, "slot %s", slot_name(w->slot));
    snprintf(detail, sizeof detail, "%s: %s", commit ? "commit" : "rollback", why);
    supervisor_publish(w->sup, EV_UPDATE, name, detail);
    w->done(commit, why, w->data);
}

static bool watched(const struct container_spec *c)
{
    return c->main || c->health != HEALTH_NONE;
}

/* A reason the try has failed already, or NULL. */
static const char *verdict(struct update_watch *w, char *why, size_t n, bool final)
{
    const struct manifest *m = w->m;
    for (size_t i = 0; i < m->n_containers; i++) {
        const struct container_spec *c = &m->containers[i];
        if (!watched(c))
            continue;
        int k = supervisor_find(w->sup, c->name);
        if (k < 0)
            continue;
        struct container_status st;
        supervisor_status(w->sup, (size_t)k, &st);
        if (st.state == CS_FAILED) {
            snprintf(why, n, "container %s failed (%s)", c->name, st.failure ? st.failure : "gave up");
            return why;
        }
        if (st.health == HS_UNHEALTHY) {
            snprintf(why, n, "container %s is unhealthy", c->name);
            return why;
        }
        if (st.has_exited && st.state != CS_RUNNING &&
            (!WIFEXITED(st.last_status) || WEXITSTATUS(st.last_status) != 0)) {
            snprintf(why, n, "container %s exited (status %d)", c->name,
                     WIFEXITED(st.last_status) ? WEXITSTATUS(st.last_status) : 128 + WTERMSIG(st.last_status));
            return why;
        }
        if (final && (st.state != CS_RUNNING || (c->health != HEALTH_NONE && st.health != HS_HEALTHY))) {
            snprintf(why, n, "container %s is %s%s%s after update_confirm", c->name, container_state_name(st.state),
                     c->health != HEALTH_NONE ? ", health " : "",
                     c->health != HEALTH_NONE ? health_state_name(st.health) : "");
            return why;
        }
    }
    return NULL;
}

static void tick(struct loop *l, void *data)
{
    struct update_watch *w = data;
    w->timer = 0;
    char why[256];
    bool final = now_ms() >= w->deadline_ms;
    if (verdict(w, why, sizeof why, final)) {
        decide(w, false, why);
        return;
    }
    if (final) {
        snprintf(why, sizeof why, "healthy for %llu ms", (unsigned long long)w->m->system.update_confirm_ms);
        decide(w, true, why);
        return;
    }
    int64_t id = loop_add_timer(w->loop, WATCH_TICK_MS, tick, w);
    w->timer = id > 0 ? id : 0;
    if (id <= 0)   /* no timer: nothing would ever commit; the next boot rolls back */
        decide(w, false, "cannot arm the confirm timer");
}

int update_watch_new(struct update_watch **out, struct loop *l, struct supervisor *sup, const struct manifest *m,
                     enum slot trying, update_done_cb done, void *data, struct kerr *err)
{
    struct update_watch *w = calloc(1, sizeof *w);
    if (!w)
        return kerr_set(err, ENOMEM, "cannot watch the update");
    *w = (struct update_watch){ .loop = l, .sup = sup, .m = m, .done = done, .data = data,
                                .deadline_ms = now_ms() + m->system.update_confirm_ms };
    w->slot = trying;
    int64_t id = loop_add_timer(l, WATCH_TICK_MS, tick, w);
    if (id <= 0) {
        free(w);
        return kerr_set(err, id < 0 ? (int)-id : EIO, "cannot arm the update's confirm timer");
    }
    w->timer = id;
    *out = w;
    return 0;
}

void update_watch_main_exited(struct update_watch *w, int status)
{
    if (!w || w->decided)
        return;
    char why[128];
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        snprintf(why, sizeof why, "the main container exited 0 before update_confirm");
    else
        snprintf(why, sizeof why, "the main container exited (status %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    decide(w, false, why);
}

void update_watch_free(struct update_watch *w)
{
    if (!w)
        return;
    if (w->timer > 0)
        loop_cancel_timer(w->loop, w->timer);
    free(w);
}

/* --- installing ------------------------------------------------------------- */

struct update_install {
    int vfd;                 /* the update volume */
    int newfd;               /* slots/X.new */
    int fd;                  /* the member being written */
    enum slot target;
    char newname[16], name[8];
    bool done;
    struct bundle_reader *rd;
};

/* slots/X(.new): manifest and layers/N.* only (what the reader lets in);
 * anything else there makes the removal fail rather than recurse. */
static int remove_slot_dir(int slots, const char *name, struct kerr *err)
{
    int d = openat(slots, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (d < 0)
        return errno == ENOENT ? 0 : kerr_set(err, errno, "cannot open slots/%s", name);
    int l = openat(d, "layers", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (l >= 0) {
        int l2 = fcntl(l, F_DUPFD_CLOEXEC, 0);
        DIR *dir = l2 >= 0 ? fdopendir(l2) : NULL;
        struct dirent *de;
        while (dir && (de = readdir(dir)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                (void)unlinkat(l, de->d_name, 0);
        if (dir)
            closedir(dir);
        else
            close_safe(l2);
        close(l);
        (void)unlinkat(d, "layers", AT_REMOVEDIR);
    }
    (void)unlinkat(d, "manifest", 0);
    close(d);
    if (unlinkat(slots, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return kerr_set(err, errno, "cannot remove slots/%s", name);
    return 0;
}

static int sink_begin(void *ctx, const struct bundle_entry *e, struct kerr *err)
{
    struct update_install *u = ctx;
    if (str_starts(e->name, "layers/") && mkdirat(u->newfd, "layers", 0755) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create slots/%s/layers", u->newname);
    u->fd = openat(u->newfd, e->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (u->fd < 0)
        return kerr_set(err, errno, "cannot create slots/%s/%s", u->newname, e->name);
    return 0;
}

static int sink_data(void *ctx, const void *buf, size_t n, struct kerr *err)
{
    struct update_install *u = ctx;
    int r = write_all(u->fd, buf, n);
    return r < 0 ? kerr_set(err, -r, "cannot write to slots/%s", u->newname) : 0;
}

static int sink_end(void *ctx, const struct bundle_entry *e, struct kerr *err)
{
    struct update_install *u = ctx;
    int r = fsync(u->fd) < 0 ? -errno : 0;
    close_safe(u->fd);
    u->fd = -1;
    return r < 0 ? kerr_set(err, -r, "cannot write slots/%s/%s", u->newname, e->name) : 0;
}

int update_install_begin(const struct manifest *m, struct update_install **out, struct kerr *err)
{
    unsigned char key[BUNDLE_PUBKEY_BYTES];
    int r;
    if (m->system.update_key && (r = bundle_pubkey_load(m->system.update_key, key, err)) < 0)
        return r;
    _cleanup_close_ int vfd = open_volume(m, err);
    if (vfd < 0)
        return vfd;
    struct slot_state s;
    if ((r = slot_state_load(vfd, &s, err)) < 0)
        return r;
    if (s.trying != SLOT_NONE)
        return kerr_msg(err, EBUSY, "cannot update: slot %s is being tried (wait for its commit or keel rollback)",
                        slot_name(s.trying));
    if (mkdirat(vfd, "slots", 0700) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create slots/ on the update volume");
    struct update_install *u = calloc(1, sizeof *u);
    if (!u)
        return kerr_set(err, ENOMEM, "cannot start the update");
    u->vfd = -1, u->newfd = -1, u->fd = -1;
    u->target = slot_inactive(&s);
    snprintf(u->name, sizeof u->name, "%s", slot_name(u->target));
    snprintf(u->newname, sizeof u->newname, "%s.new", u->name);
    _cleanup_close_ int slots = openat(vfd, "slots", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    /* A .new left by an interrupted update is garbage. */
    if (slots >= 0 && (r = remove_slot_dir(slots, u->newname, err)) < 0) {
        update_install_free(u);
        return r;
    }
    if (slots < 0 || mkdirat(slots, u->newname, 0755) < 0 ||
        (u->newfd = openat(slots, u->newname, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        r = kerr_set(err, errno, "cannot create slots/%s", u->newname);
        update_install_free(u);
        return r;
    }
    struct bundle_sink sink = { sink_begin, sink_data, sink_end, u };
    if (!(u->rd = bundle_reader_new(m->system.update_key ? key : NULL, &sink))) {
        update_install_free(u);
        return kerr_set(err, ENOMEM, "cannot start the update");
    }
    u->vfd = TAKE_FD(vfd);
    log_info("update: receiving a bundle into slot %s", u->name);
    *out = u;
    return 0;
}

int update_install_feed(struct update_install *u, const void *buf, size_t n, struct kerr *err)
{
    return bundle_reader_feed(u->rd, buf, n, err);
}

int update_install_finish(struct update_install *u, enum slot *slot, struct kerr *err)
{
    int r = bundle_reader_finish(u->rd, err);
    if (r < 0)
        return r;
    /* The manifest's layers point into the slot through BUNDLE_SLOT_LINK,
     * which names the running slot now: the file checks wait for the boot
     * that runs it (a failure there is a rollback). */
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if ((r = read_file_at(u->newfd, "manifest", 1 << 20, &text, &len)) < 0)
        return kerr_set(err, -r, "cannot read the bundle's manifest");
    struct manifest *nm = NULL;
    struct diag d = { 0 };
    r = manifest_load_buffer("bundle:manifest", text, len, MANIFEST_NO_FS_CHECKS, &nm, &d);
    if (r < 0) {
        r = kerr_msg(err, EINVAL, "the bundle's manifest is not valid: %s", d.count ? d.msgs[0] : "?");
        diag_free(&d);
        return r;
    }
    manifest_free(nm);
    diag_free(&d);
    if (fsync(u->newfd) < 0)
        return kerr_set(err, errno, "cannot fsync slots/%s", u->newname);
    _cleanup_close_ int slots = openat(u->vfd, "slots", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (slots < 0)
        return kerr_set(err, errno, "cannot open slots/");
    if ((r = remove_slot_dir(slots, u->name, err)) < 0)
        return r;
    if (renameat(slots, u->newname, slots, u->name) < 0)
        return kerr_set(err, errno, "cannot rename slots/%s to slots/%s", u->newname, u->name);
    if (fsync(slots) < 0)
        return kerr_set(err, errno, "cannot fsync slots/");
    struct slot_state s;
    if ((r = slot_state_load(u->vfd, &s, err)) < 0)
        return r;
    if (slot_step(&s, SLOT_EV_INSTALL) < 0 || s.trying != u->target)
        return kerr_msg(err, EBUSY, "cannot install: the slot state changed during the update");
    char last[64];
    snprintf(last, sizeof last, "installed slot %s; switching", u->name);
    if ((r = save(u->vfd, &s, last, err)) < 0)
        return r;
    u->done = true;
    *slot = u->target;
    log_stage("update: %s", last);
    return 0;
}

void update_install_free(struct update_install *u)
{
    if (!u)
        return;
    bundle_reader_free(u->rd);
    close_safe(u->fd);
    close_safe(u->newfd);
    if (!u->done && u->vfd >= 0) {
        int slots = openat(u->vfd, "slots", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        struct kerr e = { 0 };
        if (slots >= 0 && remove_slot_dir(slots, u->newname, &e) < 0)
            log_warn("%s", e.msg);
        close_safe(slots);
    }
    close_safe(u->vfd);
    free(u);
}
