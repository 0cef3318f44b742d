/*
 * LD_PRELOAD shim for the SNI test (test/deploy/sni.test.ts): getaddrinfo() answers 127.0.0.1 for every name ending
 * in $RESOLVE_TO_LOOPBACK_SUFFIX, so a librdkafka client (kcat) resolves the proxy's bootstrap and broker names to
 * the loopback address without /etc/hosts being edited. Every other name goes to the real getaddrinfo.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  static getaddrinfo_fn real;
  if (!real) real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
  const char *suffix = getenv("RESOLVE_TO_LOOPBACK_SUFFIX");
  if (node && suffix && *suffix) {
    size_t n = strlen(node), s = strlen(suffix);
    if (n >= s && strcasecmp(node + n - s, suffix) == 0) {
      struct addrinfo h = hints ? *hints : (struct addrinfo){0};
      h.ai_family = AF_INET;
      h.ai_flags &= ~AI_CANONNAME;
      return real("127.0.0.1", service, &h, res);
    }
  }
  return real(node, service, hints, res);
}
