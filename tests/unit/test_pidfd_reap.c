/* test_pidfd_reap.c — sys_pidfd_reap: reaps an ended child, gives up on a
 * live one after its bound (never waits without one: PID 1 calls it), and
 * says ECHILD for a child another reaper took. */
#include "keel/sys.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

static long elapsed_ms(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static int child_pidfd(int how, pid_t *pid)
{
    *pid = fork();
    if (*pid == 0) {
        if (how == 0)
            _exit(7);
        for (;;)
            pause();   /* until killed */
    }
    return *pid > 0 ? sys_pidfd_open(*pid) : -1;
}

TEST(reaps_an_ended_child)
{
    pid_t pid;
    int fd = child_pidfd(0, &pid);
    CHECK(fd >= 0);
    int status = -1;
    CHECK_INT(sys_pidfd_reap(fd, 5000, &status), 0);
    CHECK_INT(status, 7);
    /* Reaped for good: nothing of it is left to wait for. */
    CHECK(waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD);
    close(fd);
}

TEST(a_live_child_is_left_after_the_bound)
{
    pid_t pid;
    int fd = child_pidfd(1, &pid);
    CHECK(fd >= 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(sys_pidfd_reap(fd, 50, NULL), -ETIMEDOUT);
    CHECK(elapsed_ms(&t0) >= 45);   /* it did wait for its bound */
    /* Still there, unreaped (positive control of the first test's ECHILD). */
    CHECK(waitpid(pid, NULL, WNOHANG) == 0);
    CHECK(kill(pid, SIGKILL) == 0);
    int status = -1;
    CHECK_INT(sys_pidfd_reap(fd, 5000, &status), 0);
    CHECK_INT(status, 128 + SIGKILL);
    close(fd);
}

TEST(echild_when_another_reaper_took_it)
{
    pid_t pid;
    int fd = child_pidfd(0, &pid);
    CHECK(fd >= 0);
    CHECK(waitpid(pid, NULL, 0) == pid);
    CHECK_INT(sys_pidfd_reap(fd, 1000, NULL), -ECHILD);
    close(fd);
}

int main(void)
{
    RUN(reaps_an_ended_child);
    RUN(a_live_child_is_left_after_the_bound);
    RUN(echild_when_another_reaper_took_it);
    return unit_done();
}
