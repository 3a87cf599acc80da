/* benches/pace.c: a steady stream for scripts/bench-delivery.sh.
 *
 * Sends COUNT datagrams of SIZE bytes to an IPv4 HOST:PORT at RATE per
 * second, steadily: it wakes every 10 microseconds (timer slack set to
 * 1 ns) and sends what is due by then, so the receiver sees a stream at
 * that rate rather than bursts. A full queue is retried, never dropped.
 *
 * usage: pace HOST PORT COUNT SIZE RATE
 * stderr at exit: "pace: N sent in S s"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: pace HOST PORT COUNT SIZE RATE\n");
        return 2;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "pace: bad host %s\n", argv[1]);
        return 2;
    }
    unsigned long long count = strtoull(argv[3], NULL, 10);
    size_t size = strtoul(argv[4], NULL, 10);
    double rate = strtod(argv[5], NULL);
    if (size < 16 || size > 65507 || rate <= 0) {
        fprintf(stderr, "pace: SIZE 16..65507, RATE > 0\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("pace: socket");
        return 1;
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    char *buf = malloc(size);
    memset(buf, 'x', size);
    double start = now();
    unsigned long long sent = 0;
    while (sent < count) {
        unsigned long long due = (unsigned long long)((now() - start) * rate) + 1;
        if (due > count) due = count;
        while (sent < due) {
            int n = snprintf(buf, size, "%llu ", sent);
            buf[n] = 'x';
            if (sendto(fd, buf, size, 0, (struct sockaddr *)&to, sizeof to) < 0) {
                if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
                    struct timespec pause = {0, 50000};
                    nanosleep(&pause, NULL);
                    continue;
                }
                perror("pace: sendto");
                return 1;
            }
            sent++;
        }
        struct timespec tick = {0, 10000};
        nanosleep(&tick, NULL);
    }
    fprintf(stderr, "pace: %llu sent in %.3f s\n", sent, now() - start);
    return 0;
}
