/* benches/oneshot.c: the baseline for `udpmsg send HOST:PORT hi` in
 * scripts/bench.sh: one process that sends one datagram and exits.
 *
 * usage: oneshot HOST PORT MESSAGE        (HOST is an IPv4 literal)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: oneshot HOST PORT MESSAGE\n");
        return 2;
    }
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "oneshot: bad IPv4 address %s\n", argv[1]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("oneshot: socket"); return 1; }
    if (sendto(fd, argv[3], strlen(argv[3]), 0, (struct sockaddr *)&to, sizeof to) < 0) {
        perror("oneshot: sendto");
        return 1;
    }
    close(fd);
    return 0;
}
