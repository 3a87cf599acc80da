/* benches/recv.c: the baseline receiver for scripts/bench.sh.
 *
 * A minimal recvfrom loop doing the same job as `udpmsg listen`: bind a
 * dual-stack UDP socket on [::]:PORT with an 8 MiB receive buffer
 * (SO_RCVBUFFORCE, falling back to SO_RCVBUF), and write every datagram
 * plus a newline to a buffered FILE* (64 KiB, the size of udpmsg's output
 * buffer). Stops after COUNT datagrams, after TIMEOUT_MS, or on
 * SIGINT/SIGTERM, and always flushes its output first.
 *
 * usage: recv PORT COUNT TIMEOUT_MS OUTFILE      (OUTFILE "-" is stdout)
 * stderr at exit: "recv: N datagrams, B bytes, max size S, rcvbuf R"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#define RCVBUF (8 << 20)
#define OUTBUF (64 * 1024)

static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: recv PORT COUNT TIMEOUT_MS OUTFILE\n");
        return 2;
    }
    int port = atoi(argv[1]);
    unsigned long long count = strtoull(argv[2], NULL, 10);
    double deadline = now_s() + atof(argv[3]) / 1000.0;
    FILE *out = strcmp(argv[4], "-") == 0 ? stdout : fopen(argv[4], "w");
    if (!out) { perror("recv: fopen"); return 1; }
    static char outbuf[OUTBUF];
    setvbuf(out, outbuf, _IOFBF, sizeof outbuf);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: recvfrom returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) { perror("recv: socket"); return 1; }
    int one = 1, zero = 0, size = RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    /* Wake up now and then to check the deadline and the stop flag. */
    struct timeval tv = {0, 100 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    addr.sin6_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("recv: bind");
        return 1;
    }

    static char buf[65536];
    unsigned long long got = 0, bytes = 0;
    long max = 0;
    while (got < count && !stop) {
        struct sockaddr_in6 from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if (now_s() >= deadline) break;
                continue;
            }
            perror("recv: recvfrom");
            break;
        }
        fwrite(buf, 1, (size_t)n, out);
        putc('\n', out);
        got++;
        bytes += (unsigned long long)n;
        if (n > max) max = n;
    }
    fflush(out);
    int granted = 0;
    socklen_t len = sizeof granted;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len);
    fprintf(stderr, "recv: %llu datagrams, %llu bytes, max size %ld, rcvbuf %d\n",
            got, bytes, max, granted);
    return 0;
}
