#include "core/base64.h"

#include <cctype>

#include <openssl/evp.h>

namespace ballast {

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4, '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                  static_cast<int>(bytes.size()));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string compact;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  }
  if (compact.size() % 4 != 0) return invalid_argument("not base64: the length is not a multiple of 4");
  std::string out(compact.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(compact.data()),
                                      static_cast<int>(compact.size()));
  size_t padding = 0;
  for (auto it = compact.rbegin(); it != compact.rend() && *it == '='; ++it) ++padding;
  if (written < 0 || padding > 2) return invalid_argument("not base64");
  out.resize(static_cast<size_t>(written) - padding);
  return out;
}

}  // namespace ballast
