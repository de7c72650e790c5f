/* Unit tests of watchdog.c: the pure helpers, and that a device keel cannot
 * drive is refused with a clear message and nothing left open. */
#include "keel/loop.h"
#include "keel/watchdog.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>

TEST(timeout_seconds)
{
    CHECK_INT(watchdog_timeout_seconds(0), 1);
    CHECK_INT(watchdog_timeout_seconds(1), 1);
    CHECK_INT(watchdog_timeout_seconds(1000), 1);
    CHECK_INT(watchdog_timeout_seconds(1001), 2);
    CHECK_INT(watchdog_timeout_seconds(30000), 30);
    CHECK_INT(watchdog_timeout_seconds(UINT64_MAX), INT32_MAX);
}

TEST(pet_interval)
{
    CHECK_INT(watchdog_pet_interval_ms(30), 10000);
    CHECK_INT(watchdog_pet_interval_ms(1), 333);
    CHECK_INT(watchdog_pet_interval_ms(2), 666);
    CHECK_INT(watchdog_pet_interval_ms(0), 333);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

TEST(refuses_what_is_not_a_watchdog)
{
    struct loop *l = NULL;
    struct kerr err = { 0 };
    CHECK_INT(loop_new(&l, &err), 0);
    int before = count_fds();
    struct watchdog *w = NULL;
    CHECK_INT(watchdog_open(&w, l, "/dev/null", 30000, &err), -ENOTTY);
    CHECK(w == NULL);
    CHECK(strstr(err.msg, "cannot use /dev/null as a watchdog: ") == err.msg);
    CHECK_INT(count_fds(), before);
    kerr_clear(&err);
    CHECK_INT(watchdog_open(&w, l, "/nonexistent/watchdog", 30000, &err), -ENOENT);
    CHECK_STR(err.msg, "cannot open the watchdog /nonexistent/watchdog: No such file or directory");
    CHECK_INT(count_fds(), before);
    watchdog_close_clean(NULL);   /* a no-op */
    CHECK_INT(watchdog_timeout_ms(NULL), 0);
    CHECK_INT(watchdog_pet(NULL), -EBADF);
    loop_free(l);
}

int main(void)
{
    RUN(timeout_seconds);
    RUN(pet_interval);
    RUN(refuses_what_is_not_a_watchdog);
    return unit_done();
}
