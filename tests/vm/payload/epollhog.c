/* epollhog.c — a container process that uses up the epoll watches of its
 * kernel uid (fs.epoll.max_user_watches), as any default container running
 * as kuid 0 can: 1000 eventfds added to one epoll instance after another
 * until epoll_ctl fails.  Prints epoll-full=N errno=NAME, then holds them
 * until it is killed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define NFD 1000

int main(void)
{
    struct rlimit rl = { 8192, 8192 };
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        perror("setrlimit");
    static int efd[NFD];
    for (int i = 0; i < NFD; i++) {
        efd[i] = eventfd(0, EFD_CLOEXEC);
        if (efd[i] < 0) {
            printf("epoll-full=0 errno=eventfd:%s\n", strerror(errno));
            return 1;
        }
    }
    long n = 0;
    int e = 0;
    for (int k = 0; k < 6000 && !e; k++) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0) {
            e = errno;
            break;
        }
        for (int i = 0; i < NFD; i++) {
            struct epoll_event ev = { .events = EPOLLIN };
            if (epoll_ctl(ep, EPOLL_CTL_ADD, efd[i], &ev) < 0) {
                e = errno;
                break;
            }
            n++;
        }
    }
    printf("epoll-full=%ld errno=%s\n", n, e == ENOSPC ? "ENOSPC" : strerror(e));
    fflush(stdout);
    for (;;)
        pause();
}
