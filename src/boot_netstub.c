/* boot_netstub.c — TEMPORARY weak stand-ins for net_loopback_up() and
 * net_interface_configure() so the boot branch builds and boots before the net
 * module is merged.  THE LEAD DELETES THIS FILE AT MERGE: src/net.c provides
 * the real (libnl-route) definitions, which override these weak ones anyway.
 * These use plain ioctls, enough for lo and a static IPv4 uplink in the VM tests. */
#include "keel/log.h"
#include "keel/net.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <net/if.h>
#include <net/route.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int stub_up(int s, const char *name, struct kerr *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return kerr_set(err, errno, "cannot find interface %s", name);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return kerr_set(err, errno, "cannot bring up %s", name);
    return 0;
}

__attribute__((weak)) int net_loopback_up(struct kerr *err)
{
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return kerr_set(err, errno, "cannot open a socket");
    return stub_up(s, "lo", err);
}

__attribute__((weak)) int net_interface_configure(const struct interface_spec *ifs, struct kerr *err)
{
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return kerr_set(err, errno, "cannot open a socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifs->name);
    if (ifs->mtu) {
        ifr.ifr_mtu = (int)ifs->mtu;
        if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
            return kerr_set(err, errno, "cannot set the mtu of %s", ifs->name);
    }
    if (ifs->has_address) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
        sin->sin_family = AF_INET;
        sin->sin_addr = ifs->address;
        if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
            return kerr_set(err, errno, "cannot set the address of %s", ifs->name);
        sin->sin_addr.s_addr = ifs->prefix ? htonl(~0u << (32 - ifs->prefix)) : 0;
        if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
            return kerr_set(err, errno, "cannot set the netmask of %s", ifs->name);
    }
    int r = stub_up(s, ifs->name, err);
    if (r < 0)
        return r;
    if (ifs->gateway.s_addr) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
        struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
        struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
        gw->sin_family = dst->sin_family = mask->sin_family = AF_INET;
        gw->sin_addr = ifs->gateway;
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        rt.rt_dev = ifs->name;
        if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
            return kerr_set(err, errno, "cannot add the default route via %s", inet_ntoa(ifs->gateway));
    }
    char a[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &ifs->address, a, sizeof a);
    log_info("interface %s: %s/%u up", ifs->name, a, ifs->prefix);
    return 0;
}
