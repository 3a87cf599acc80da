/* benches/send.c: the baseline sender for scripts/bench.sh.
 *
 * A minimal sendto loop doing the same job as `udpmsg send HOST -`: COUNT
 * datagrams of SIZE bytes each to an IPv4 HOST:PORT from one unconnected
 * socket. Each datagram is printable text starting with its sequence number,
 * padded with 'x'; with "nl" its last byte is a newline (so that socat and
 * nc, which add none, still write one line per datagram). A full queue
 * (ENOBUFS/EAGAIN) is retried after a short sleep, as udpmsg does, so the
 * sender never drops on its own side.
 *
 * usage: send HOST PORT COUNT SIZE [nl]
 * stderr at exit: "send: N sent, R retries"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_RETRIES 1000000ULL

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: send HOST PORT COUNT SIZE [nl]\n");
        return 2;
    }
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "send: bad IPv4 address %s\n", argv[1]);
        return 2;
    }
    unsigned long long count = strtoull(argv[3], NULL, 10);
    int size = atoi(argv[4]);
    int newline = argc == 6 && strcmp(argv[5], "nl") == 0;
    if (size < 12 || size > 65507) {
        fprintf(stderr, "send: SIZE must be 12..65507\n");
        return 2;
    }
    char *buf = malloc((size_t)size);
    if (!buf) return 1;
    memset(buf, 'x', (size_t)size);
    if (newline) buf[size - 1] = '\n';
    buf[10] = ' ';

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("send: socket"); return 1; }

    unsigned long long sent = 0, retries = 0;
    for (unsigned long long i = 0; i < count; i++) {
        /* Ten decimal digits of the sequence number, no printf per datagram. */
        unsigned long long v = i;
        for (int d = 9; d >= 0; d--) { buf[d] = (char)('0' + v % 10); v /= 10; }
        for (;;) {
            if (sendto(fd, buf, (size_t)size, 0, (struct sockaddr *)&to, sizeof to) >= 0) {
                sent++;
                break;
            }
            if ((errno == ENOBUFS || errno == EAGAIN || errno == EINTR) && retries < MAX_RETRIES) {
                retries++;
                struct timespec ts = {0, 50 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
            perror("send: sendto");
            fprintf(stderr, "send: %llu sent, %llu retries\n", sent, retries);
            return 1;
        }
    }
    fprintf(stderr, "send: %llu sent, %llu retries\n", sent, retries);
    return 0;
}
