#include "baggageclaim/tar/tar.h"

namespace tarmac::baggageclaim::tar {

Result<Encoding> parse_encoding(std::string_view name) {
  if (name == "gzip" || name.empty()) return Encoding::kGzip;
  if (name == "raw") return Encoding::kRaw;
  if (name == "zstd") return Encoding::kZstd;
  return Error("encoding \"" + std::string(name) + "\": expected raw, gzip or zstd");
}

std::string_view encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::kRaw:
      return "raw";
    case Encoding::kZstd:
      return "zstd";
    case Encoding::kGzip:
      break;
  }
  return "gzip";
}

}  // namespace tarmac::baggageclaim::tar
