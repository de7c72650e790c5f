/* Unit tests of timesync.c's saved clock: the file's syntax, saving, and the
 * restore's refusals.  Nothing here may set the clock of the machine that
 * runs the tests: only files behind the clock, absent or damaged are given
 * to timesync_restore (the forward case is tests/vm/test_time.sh's). */
#include "keel/timesync.h"
#include "keel/util.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

TEST(saved_parse)
{
    int64_t s = 0;
    CHECK_INT(timesync_saved_parse("1796557386\n", &s), 0);
    CHECK_INT(s, 1796557386);
    CHECK_INT(timesync_saved_parse("1796557386", &s), 0);
    CHECK_INT(timesync_saved_parse("946684800\n", &s), 0);     /* 2000-01-01 */
    CHECK_INT(timesync_saved_parse("946684799\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("7258118399\n", &s), 0);    /* the last second before 2200 */
    CHECK_INT(timesync_saved_parse("7258118400\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("-1796557386\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("1796557386\n\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("1796557386\nx", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse(" 1796557386\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("1796557386.5\n", &s), -EINVAL);
    CHECK_INT(timesync_saved_parse("99999999999999999999999999\n", &s), -EINVAL);
}

TEST(save_and_refusals)
{
    char dir[] = "/tmp/keel-unit-timesync.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path = xasprintf("%s/clock", dir), *tmp = xasprintf("%s/clock.tmp", dir);
    struct kerr err = { 0 };
    /* Absent: a first boot, nothing to do. */
    CHECK_INT(timesync_restore(path, &err), 0);
    time_t before = time(NULL);
    CHECK_INT(timesync_save(path, &err), 0);
    time_t after = time(NULL);
    char *text = NULL;
    int64_t s = 0;
    CHECK_INT(read_file_at(AT_FDCWD, path, 64, &text, NULL), 0);
    CHECK(text && timesync_saved_parse(text, &s) == 0);
    CHECK(s >= before && s <= after);
    CHECK(access(tmp, F_OK) < 0);   /* renamed into place */
    free(text);
    /* The saved time is not ahead of the clock (it is the clock, a second
     * later at most): nothing is set. */
    CHECK_INT(timesync_restore(path, &err), 0);
    /* Damaged: an error, never a clock change. */
    CHECK_INT(write_file_at(AT_FDCWD, path, "yesterday\n"), 0);
    CHECK_INT(timesync_restore(path, &err), -EINVAL);
    CHECK(strstr(err.msg, path) != NULL);
    /* A directory where the file should be: an error naming it. */
    char *sub = xasprintf("%s/nodir/clock", dir);
    CHECK(timesync_save(sub, &err) < 0);
    CHECK(strstr(err.msg, "cannot save the clock") != NULL);
    unlink(path);
    rmdir(dir);
    free(path);
    free(tmp);
    free(sub);
}

int main(void)
{
    RUN(saved_parse);
    RUN(save_and_refusals);
    return unit_done();
}
