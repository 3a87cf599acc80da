/* Kernel-side cost of quinn-udp's receive socket options, isolated:
 * fill a socket's queue with COUNT 111-byte datagrams (sendmmsg, another socket
 * of this process), then drain it with recvmmsg batches of 32 and time only
 * the drain (CLOCK_THREAD_CPUTIME_ID) and the fill. Modes:
 *  base : IP_PKTINFO (what udpmsg sets), 128-byte control buffers
 *  tos  : + IP_RECVTOS          ts : + SO_TIMESTAMPNS      gro : + UDP_GRO
 *  quinn: + IP_RECVTOS + SO_TIMESTAMPNS + UDP_GRO + IP_MTU_DISCOVER=PROBE, 96-byte buffers
 * usage: kmicro ROUNDS COUNT ; prints "mode round drain_ns_per_dgram fill_ns_per_dgram" */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define B 32
static double now_ns(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static void on(int fd, int level, int name, int v) { if (setsockopt(fd, level, name, &v, sizeof v)) { perror("setsockopt"); exit(1); } }
static const char *modes[] = {"base", "tos", "ts", "gro", "quinn"};
int main(int argc, char **argv) {
    int rounds = atoi(argv[1]), count = atoi(argv[2]);
    static char bufs[B][2048]; static char ctrl[B][128]; static struct sockaddr_in names[B];
    struct iovec iov[B]; struct mmsghdr msgs[B];
    char payload[111]; memset(payload, 'x', sizeof payload);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 5; k++) {
            int m = (r % 2) ? 4 - k : k;
            int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
            int big = 64 << 20; setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            socklen_t al = sizeof a;
            bind(rx, (void *)&a, sizeof a); getsockname(rx, (void *)&a, &al);
            on(rx, IPPROTO_IP, IP_PKTINFO, 1);
            int clen = 128;
            if (m == 1 || m == 4) on(rx, IPPROTO_IP, IP_RECVTOS, 1);
            if (m == 2 || m == 4) on(rx, SOL_SOCKET, SO_TIMESTAMPNS, 1);
            if (m == 3 || m == 4) on(rx, SOL_UDP, UDP_GRO, 1);
            if (m == 4) { on(rx, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE); clen = 96; }
            /* fill */
            struct iovec siov = {payload, sizeof payload};
            struct mmsghdr smsg[B]; memset(smsg, 0, sizeof smsg);
            for (int i = 0; i < B; i++) { smsg[i].msg_hdr.msg_name = &a; smsg[i].msg_hdr.msg_namelen = sizeof a; smsg[i].msg_hdr.msg_iov = &siov; smsg[i].msg_hdr.msg_iovlen = 1; }
            double f0 = now_ns();
            for (int sent = 0; sent < count;) { int n = sendmmsg(tx, smsg, count - sent < B ? count - sent : B, 0); if (n <= 0) { perror("sendmmsg"); return 1; } sent += n; }
            double f1 = now_ns();
            /* drain */
            int got = 0; double d0 = now_ns();
            while (got < count) {
                for (int i = 0; i < B; i++) {
                    iov[i].iov_base = bufs[i]; iov[i].iov_len = sizeof bufs[i];
                    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
                    msgs[i].msg_hdr.msg_name = &names[i]; msgs[i].msg_hdr.msg_namelen = sizeof names[i];
                    msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
                    msgs[i].msg_hdr.msg_control = ctrl[i]; msgs[i].msg_hdr.msg_controllen = clen;
                }
                int n = recvmmsg(rx, msgs, B, MSG_DONTWAIT, NULL);
                if (n <= 0) { perror("recvmmsg"); return 1; }
                got += n;
            }
            double d1 = now_ns();
            printf("%s %d %.1f %.1f\n", modes[m], r, (d1 - d0) / count, (f1 - f0) / count);
            fflush(stdout);
            close(rx); close(tx);
        }
    }
    return 0;
}
