// The destination a connection had before the kernel redirected it (iptables/nftables REDIRECT),
// read with getsockopt(SO_ORIGINAL_DST) / getsockopt(IP6T_SO_ORIGINAL_DST). Node has no getsockopt,
// and the npm packages that wrap it are unmaintained; this is the whole addon (docs/decisions.md).
#include <node_api.h>
#include <errno.h>
#include <string.h>

#ifdef __linux__
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter_ipv4.h>      // SO_ORIGINAL_DST
#include <linux/netfilter_ipv6/ip6_tables.h> // IP6T_SO_ORIGINAL_DST
#endif

// originalDestination(fd) → { address, port } | null (no redirect recorded for this socket).
// Throws only for a bad argument; every socket error is "not known", which the caller handles.
static napi_value OriginalDestination(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  int32_t fd;
  napi_get_null(env, &result);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "originalDestination(fd) needs a file descriptor");
    return NULL;
  }
#ifdef __linux__
  struct sockaddr_storage local;
  socklen_t local_len = sizeof(local);
  if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0) return result;

  char text[INET6_ADDRSTRLEN];
  int port = -1;
  if (local.ss_family == AF_INET6) {
    struct sockaddr_in6 dst;
    socklen_t len = sizeof(dst);
    memset(&dst, 0, sizeof(dst));
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len) == 0 && dst.sin6_family == AF_INET6) {
      if (inet_ntop(AF_INET6, &dst.sin6_addr, text, sizeof(text)) != NULL) port = ntohs(dst.sin6_port);
    }
  }
  if (port < 0) {
    // An IPv4 socket, or an IPv4 connection accepted on a dual-stack IPv6 socket.
    struct sockaddr_in dst;
    socklen_t len = sizeof(dst);
    memset(&dst, 0, sizeof(dst));
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) == 0 && dst.sin_family == AF_INET) {
      if (inet_ntop(AF_INET, &dst.sin_addr, text, sizeof(text)) != NULL) port = ntohs(dst.sin_port);
    }
  }
  if (port < 0) return result;

  napi_value address, port_value;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_int32(env, port, &port_value);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", port_value);
#endif
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn, supported;
  napi_create_function(env, "originalDestination", NAPI_AUTO_LENGTH, OriginalDestination, NULL, &fn);
  napi_set_named_property(env, exports, "originalDestination", fn);
#ifdef __linux__
  napi_get_boolean(env, 1, &supported);
#else
  napi_get_boolean(env, 0, &supported);
#endif
  napi_set_named_property(env, exports, "supported", supported);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
