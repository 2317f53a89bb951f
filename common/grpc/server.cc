#include "common/grpc/server.h"

namespace tarmac {

Result<RunningServer> start_server(const std::string& address,
                                   const std::vector<grpc::Service*>& services,
                                   const TlsFiles& tls) {
  if (!tls.enabled() && !is_loopback_address(address))
    return Error("listen on " + address +
                 ": plaintext is for loopback addresses only; give --tls-cert, --tls-key and "
                 "--tls-ca");
  auto creds = server_credentials(tls);
  if (!creds.ok()) return std::move(creds).error().wrap("listen on " + address);
  RunningServer running;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, *creds, &running.port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(16 << 20);
  running.server = builder.BuildAndStart();
  if (!running.server || running.port == 0)
    return Error("listen on " + address + ": could not bind (address in use or malformed?)");
  return running;
}

}  // namespace tarmac
