import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * credproxy's Java agent for sandboxes (JAVA_TOOL_OPTIONS=-javaagent:<kit>/credproxy-java-agent.jar).
 * The JDK's HttpClient sends proxy credentials only from an Authenticator set on each client, and
 * a client with one drops the request's own Authorization header, so the stand-in would never
 * reach the proxy. This agent instead starts a relay on the loopback address inside the JVM and
 * points https.proxyHost/https.proxyPort at it: the relay adds Proxy-Authorization (from the
 * user:password of HTTPS_PROXY) to each CONNECT and then passes bytes through unchanged. Without
 * credentials in HTTPS_PROXY it does nothing. Rebuild with scripts/build-java-agent.sh.
 */
public final class CredproxyAgent {
  private static final int MAX_HEAD = 64 * 1024;

  private CredproxyAgent() {}

  public static void premain(String args) throws IOException {
    String proxy = System.getenv("HTTPS_PROXY");
    if (proxy == null || proxy.isEmpty()) proxy = System.getenv("https_proxy");
    if (proxy == null || proxy.isEmpty()) return;
    URI uri = URI.create(proxy);
    String userInfo = uri.getRawUserInfo();
    if (userInfo == null || uri.getHost() == null) return;
    String credentials = URLDecoder.decode(userInfo, StandardCharsets.UTF_8);
    String header = "Proxy-Authorization: Basic "
        + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8)) + "\r\n";
    String host = uri.getHost().replaceAll("^\\[(.*)\\]$", "$1");
    int port = uri.getPort() == -1 ? 80 : uri.getPort();
    ServerSocket relay = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    daemon("credproxy-relay", () -> accept(relay, host, port, header.getBytes(StandardCharsets.ISO_8859_1)));
    System.setProperty("https.proxyHost", relay.getInetAddress().getHostAddress());
    System.setProperty("https.proxyPort", Integer.toString(relay.getLocalPort()));
  }

  private static void accept(ServerSocket relay, String host, int port, byte[] header) {
    while (true) {
      try {
        Socket client = relay.accept();
        daemon("credproxy-relay-conn", () -> serve(client, host, port, header));
      } catch (IOException e) {
        return;
      }
    }
  }

  /** Reads the client's request head, adds the credentials after its first line, then relays both ways. */
  private static void serve(Socket client, String host, int port, byte[] header) {
    try (Socket c = client; Socket upstream = new Socket(host, port)) {
      InputStream in = c.getInputStream();
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int matched = 0;
      while (matched < 4) {
        int b = in.read();
        if (b < 0 || head.size() >= MAX_HEAD) return;
        head.write(b);
        matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
      }
      byte[] bytes = head.toByteArray();
      int lineEnd = indexOf(bytes, (byte) '\n') + 1;
      OutputStream out = upstream.getOutputStream();
      out.write(bytes, 0, lineEnd);
      out.write(header);
      writeHeadersWithoutProxyAuthorization(out, new String(bytes, lineEnd, bytes.length - lineEnd, StandardCharsets.ISO_8859_1));
      out.flush();
      Thread back = daemon("credproxy-relay-back", () -> pump(upstream, c));
      pump(c, upstream);
      back.join();
    } catch (IOException | InterruptedException e) {
      // The client sees the connection close, as with any proxy that went away.
    }
  }

  private static void writeHeadersWithoutProxyAuthorization(OutputStream out, String rest) throws IOException {
    // `rest` ends with the blank line's CRLF CRLF: every line but the empty last piece.
    for (String line : rest.substring(0, rest.length() - 2).split("\r\n", -1)) {
      if (line.regionMatches(true, 0, "proxy-authorization:", 0, 20)) continue;
      out.write((line + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
    }
  }

  private static void pump(Socket from, Socket to) {
    byte[] buffer = new byte[16 * 1024];
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      for (int n; (n = in.read(buffer)) >= 0; ) out.write(buffer, 0, n);
      to.shutdownOutput();
    } catch (IOException e) {
      try {
        to.close();
      } catch (IOException ignored) {
        // already closed
      }
    }
  }

  private static int indexOf(byte[] bytes, byte value) {
    for (int i = 0; i < bytes.length; i++) if (bytes[i] == value) return i;
    return -1;
  }

  private static Thread daemon(String name, Runnable body) {
    Thread thread = new Thread(body, name);
    thread.setDaemon(true);
    thread.start();
    return thread;
  }
}
