// A TLS client with OpenSSL linked in statically, its symbols kept (test/tls.test.js):
// prints "ready", waits for a line on stdin (so a test can watch it be hooked first),
// then sends "GET PATH HTTP/1.0" to 127.0.0.1:PORT and prints the reply.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT PATH\n", argv[0]);
    return 2;
  }
  printf("ready\n");
  fflush(stdout);
  char line[16];
  if (!fgets(line, sizeof line, stdin)) return 2;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || connect(fd, (struct sockaddr*)&to, sizeof to) != 0) {
    perror("connect");
    return 1;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    fprintf(stderr, "handshake failed\n");
    return 1;
  }
  char request[512];
  int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\n\r\n", argv[2]);
  if (n <= 0 || n >= (int)sizeof request || SSL_write(ssl, request, n) != n) return 1;
  char reply[4096];
  int got;
  while ((got = SSL_read(ssl, reply, sizeof reply)) > 0) fwrite(reply, 1, (size_t)got, stdout);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return 0;
}
