// SPDX-License-Identifier: MIT
#include "identity/dc_key.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

namespace ntm::dc::identity {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct FileClose {
  void operator()(FILE* f) const noexcept { std::fclose(f); }
};

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw KeyError("DC key " + file.string() + ": " + what);
}

Pkey read_key(const std::filesystem::path& file) {
  std::unique_ptr<FILE, FileClose> f(std::fopen(file.c_str(), "re"));
  if (!f) fail(file, std::generic_category().message(errno));
  Pkey k(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  if (!k) fail(file, "not a PEM private key");
  if (EVP_PKEY_get_id(k.get()) != EVP_PKEY_X25519) fail(file, "not an X25519 key");
  return k;
}

void write_key(const std::filesystem::path& file) {
  Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  if (!k) fail(file, "key generation failed");
  const auto side = std::filesystem::path(file.string() + ".new");
  const int fd = ::open(side.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(side, std::generic_category().message(errno));
  std::unique_ptr<FILE, FileClose> f(::fdopen(fd, "w"));
  if (!f) {
    ::close(fd);
    fail(side, "fdopen failed");
  }
  if (PEM_write_PrivateKey(f.get(), k.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      std::fflush(f.get()) != 0 || ::fsync(fd) != 0)
    fail(side, "write failed");
  f.reset();
  std::error_code ec;
  std::filesystem::rename(side, file, ec);
  if (ec) fail(file, ec.message());
}

std::string octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

}  // namespace

std::string DcPublicKey::fingerprint_hex() const {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

DcPublicKey load_or_create(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) write_key(file);
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    fail(file, "readable by others (mode " + octal(st.st_mode & 0777) +
                   "): chmod 600 it");
  Pkey k = read_key(file);
  DcPublicKey pub;
  std::size_t n = pub.bytes.size();
  if (EVP_PKEY_get_raw_public_key(k.get(), pub.bytes.data(), &n) != 1 || n != pub.bytes.size())
    fail(file, "cannot read the public key");
  return pub;
}

}  // namespace ntm::dc::identity
