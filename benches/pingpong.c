/* pingpong: the floor for `udpmsg ping` -- a minimal UDP ping-pong with
 * plain blocking syscalls, nothing else in the way.
 *
 *   pingpong server PORT [ADDR]          echo every datagram back; exits after
 *                                        IDLE_SECS without traffic
 *   pingpong client HOST PORT N [SIZE]   N pings back to back, each waiting for
 *                                        its reply (or WAIT_MS, then lost);
 *                                        prints one line:
 *   sent=N received=R min_us=.. p50_us=.. p99_us=.. max_us=..
 *
 * SIZE defaults to 34 bytes, the size of a udpmsg ping. Percentiles are
 * nearest-rank, as `udpmsg ping` computes them. IPv4 only; build with
 * `cc -O2 -o pingpong pingpong.c`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define IDLE_SECS 30
#define WAIT_MS 1000
#define MAX_SIZE 1472
#define MAX_COUNT 10000000L

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int parse_long(const char *text, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static struct sockaddr_in address(const char *host, long port) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "pingpong: not an IPv4 address: %s\n", host);
        exit(2);
    }
    return sa;
}

static void set_timeout(int fd, long ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        die("setsockopt SO_RCVTIMEO");
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int server(const char *host, long port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sa = address(host, port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("bind");
    set_timeout(fd, IDLE_SECS * 1000L);
    unsigned char buf[65536];
    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0; /* idle: done */
            die("recvfrom");
        }
        /* A failed echo is a lost pong, not a reason to stop. */
        (void)sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t percentile(const uint64_t *sorted, long n, double p) {
    long rank = (long)((p / 100.0) * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static int client(const char *host, long port, long count, long size) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sa = address(host, port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect");
    set_timeout(fd, WAIT_MS);
    uint64_t *rtts = malloc(sizeof *rtts * (size_t)count);
    if (!rtts)
        die("malloc");
    unsigned char out[MAX_SIZE], in[MAX_SIZE];
    memset(out, 'p', sizeof out);
    long received = 0;
    for (long seq = 0; seq < count; seq++) {
        memcpy(out, &seq, sizeof seq);
        uint64_t start = now_ns();
        if (send(fd, out, (size_t)size, 0) < 0) {
            if (errno == ECONNREFUSED) {
                fprintf(stderr, "pingpong: nothing is listening on %s:%ld\n", host, port);
                return 5;
            }
            die("send");
        }
        uint64_t deadline = start + WAIT_MS * 1000000ull;
        for (;;) {
            ssize_t n = recv(fd, in, sizeof in, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break; /* lost */
                if (errno == ECONNREFUSED) {
                    fprintf(stderr, "pingpong: nothing is listening on %s:%ld\n", host, port);
                    return 5;
                }
                die("recv");
            }
            long got;
            if (n >= (ssize_t)sizeof got) {
                memcpy(&got, in, sizeof got);
                if (got == seq) {
                    rtts[received++] = (now_ns() - start) / 1000;
                    break;
                }
            }
            /* A late reply to an earlier ping: keep waiting for ours. */
            if (now_ns() >= deadline)
                break;
        }
    }
    printf("sent=%ld received=%ld", count, received);
    if (received > 0) {
        qsort(rtts, (size_t)received, sizeof *rtts, cmp_u64);
        printf(" min_us=%llu p50_us=%llu p99_us=%llu max_us=%llu",
               (unsigned long long)rtts[0],
               (unsigned long long)percentile(rtts, received, 50.0),
               (unsigned long long)percentile(rtts, received, 99.0),
               (unsigned long long)rtts[received - 1]);
    }
    printf("\n");
    free(rtts);
    return received > 0 ? 0 : 4;
}

static int usage(void) {
    fprintf(stderr, "usage: pingpong server PORT [ADDR]\n"
                    "       pingpong client HOST PORT N [SIZE]\n");
    return 2;
}

int main(int argc, char **argv) {
    long port, count, size = 34;
    if (argc >= 3 && strcmp(argv[1], "server") == 0 && argc <= 4) {
        if (parse_long(argv[2], 1, 65535, &port) != 0)
            return usage();
        return server(argc == 4 ? argv[3] : "0.0.0.0", port);
    }
    if (argc >= 5 && strcmp(argv[1], "client") == 0 && argc <= 6) {
        if (parse_long(argv[3], 1, 65535, &port) != 0 ||
            parse_long(argv[4], 1, MAX_COUNT, &count) != 0 ||
            (argc == 6 && parse_long(argv[5], (long)sizeof(long), MAX_SIZE, &size) != 0))
            return usage();
        return client(argv[2], port, count, size);
    }
    return usage();
}
