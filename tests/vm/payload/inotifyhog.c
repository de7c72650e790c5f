/* inotifyhog.c — a container process that uses up the inotify instances of
 * its kernel uid (fs.inotify.max_user_instances, 128 by default), as any
 * default container running as kuid 0 can: keel, also kuid 0, must still
 * serve `keel logs -f`.  Prints inotify-full=N errno=NAME, then holds them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

int main(void)
{
    int n = 0, e = 0;
    for (;;) {
        if (inotify_init1(IN_CLOEXEC) < 0) {
            e = errno;
            break;
        }
        if (++n >= 100000)
            break;
    }
    printf("inotify-full=%d errno=%s\n", n, e == EMFILE ? "EMFILE" : strerror(e));
    fflush(stdout);
    for (;;)
        pause();
}
