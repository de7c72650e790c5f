/* loop.c — epoll plus one-shot timers, see loop.h.
 *
 * Registrations live in a small array indexed by a slot number stored in the
 * epoll event; a removed slot is marked dead so an event for it already
 * returned by the same epoll_wait is dropped, never dispatched to freed data.
 */
#include "keel/loop.h"
#include "keel/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct fd_slot {
    int fd;                 /* -1 when free */
    loop_fd_cb cb;
    void *data;
    uint64_t generation;    /* changes on reuse, so stale events are recognised */
};

struct timer {
    int64_t id;
    uint64_t due_ms;
    loop_timer_cb cb;
    void *data;
};

struct loop {
    int epfd;
    struct fd_slot *slots;
    size_t n_slots;
    struct timer *timers;
    size_t n_timers, cap_timers;
    int64_t next_timer_id;
    uint64_t generation;
    bool quit;
};

int loop_new(struct loop **out, struct kerr *err)
{
    struct loop *l = calloc(1, sizeof *l);
    if (!l)
        return kerr_set(err, ENOMEM, "cannot create the event loop");
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int saved = errno;
        free(l);
        return kerr_set(err, saved, "cannot create the event loop");
    }
    l->next_timer_id = 1;
    *out = l;
    return 0;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    close_safe(l->epfd);
    free(l->slots);
    free(l->timers);
    free(l);
}

static struct fd_slot *find_slot(struct loop *l, int fd)
{
    for (size_t i = 0; i < l->n_slots; i++)
        if (l->slots[i].fd == fd)
            return &l->slots[i];
    return NULL;
}

/* The epoll cookie: slot index in the low 24 bits, generation above. */
static uint64_t cookie(struct loop *l, size_t idx)
{
    return (l->slots[idx].generation << 24) | idx;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data)
{
    if (find_slot(l, fd))
        return -EEXIST;
    size_t idx = l->n_slots;
    for (size_t i = 0; i < l->n_slots; i++)
        if (l->slots[i].fd < 0) {
            idx = i;
            break;
        }
    if (idx == l->n_slots) {
        if (idx >= (1u << 24))
            return -EMFILE;
        struct fd_slot *ns = realloc(l->slots, (l->n_slots + 1) * sizeof *ns);
        if (!ns)
            return -ENOMEM;
        l->slots = ns;
        l->n_slots++;
    }
    l->slots[idx] = (struct fd_slot){ .fd = fd, .cb = cb, .data = data, .generation = ++l->generation };
    struct epoll_event ev = { .events = events, .data.u64 = cookie(l, idx) };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int saved = errno;
        l->slots[idx].fd = -1;
        return -saved;
    }
    return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
    struct fd_slot *s = find_slot(l, fd);
    if (!s)
        return -ENOENT;
    struct epoll_event ev = { .events = events, .data.u64 = cookie(l, (size_t)(s - l->slots)) };
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del_fd(struct loop *l, int fd)
{
    struct fd_slot *s = find_slot(l, fd);
    if (!s)
        return;
    if (!close_deferred())   /* the exit closes both (util.h) */
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    s->fd = -1;
    s->generation = ++l->generation;
}

int64_t loop_add_timer(struct loop *l, uint64_t ms, loop_timer_cb cb, void *data)
{
    if (l->n_timers == l->cap_timers) {
        size_t cap = l->cap_timers ? l->cap_timers * 2 : 16;
        struct timer *nt = realloc(l->timers, cap * sizeof *nt);
        if (!nt)
            return -ENOMEM;
        l->timers = nt;
        l->cap_timers = cap;
    }
    int64_t id = l->next_timer_id++;
    l->timers[l->n_timers++] = (struct timer){ .id = id, .due_ms = now_ms() + ms, .cb = cb, .data = data };
    return id;
}

void loop_cancel_timer(struct loop *l, int64_t id)
{
    for (size_t i = 0; i < l->n_timers; i++)
        if (l->timers[i].id == id) {
            l->timers[i] = l->timers[--l->n_timers];
            return;
        }
}

/* Runs every timer that is due; returns the ms until the next one (-1: none). */
static int run_timers(struct loop *l)
{
    uint64_t now = now_ms();
    for (;;) {
        size_t due = SIZE_MAX;
        for (size_t i = 0; i < l->n_timers; i++)
            if (l->timers[i].due_ms <= now && (due == SIZE_MAX || l->timers[i].due_ms < l->timers[due].due_ms))
                due = i;
        if (due == SIZE_MAX)
            break;
        struct timer t = l->timers[due];
        l->timers[due] = l->timers[--l->n_timers];
        t.cb(l, t.data);
        now = now_ms();
    }
    if (l->n_timers == 0)
        return -1;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < l->n_timers; i++)
        if (l->timers[i].due_ms < next)
            next = l->timers[i].due_ms;
    uint64_t wait = next > now ? next - now : 0;
    return wait > 60000 ? 60000 : (int)wait;
}

int loop_run_once(struct loop *l, struct kerr *err)
{
    int timeout = run_timers(l);
    if (l->quit)
        return 0;
    struct epoll_event evs[32];
    int n = epoll_wait(l->epfd, evs, ARRAY_SIZE(evs), timeout);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return kerr_set(err, errno, "cannot wait for events");
    }
    for (int i = 0; i < n; i++) {
        size_t idx = evs[i].data.u64 & 0xffffff;
        uint64_t gen = evs[i].data.u64 >> 24;
        if (idx >= l->n_slots)
            continue;
        struct fd_slot s = l->slots[idx];
        if (s.fd < 0 || (s.generation & ((1ull << 40) - 1)) != gen)
            continue;   /* removed (or replaced) by an earlier callback of this round */
        s.cb(l, s.fd, evs[i].events, s.data);
    }
    run_timers(l);
    return 0;
}

int loop_run(struct loop *l, struct kerr *err)
{
    while (!l->quit) {
        int r = loop_run_once(l, err);
        if (r < 0)
            return r;
    }
    return 0;
}

void loop_quit(struct loop *l)
{
    l->quit = true;
}

bool loop_quitting(const struct loop *l)
{
    return l->quit;
}
