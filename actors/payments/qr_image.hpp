#pragma once

// QR codes for tickets: the payload text becomes a module matrix (libqrencode, error correction
// level M, 8-bit mode), drawn as SVG for web pages and e-mails and as PNG for wallets and PDFs.
// Both drawings carry the quiet zone scanners need around the symbol.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/expected.hpp"

namespace eventstripe::actors::payments {

// A version 40 symbol at level M holds 2331 bytes, so every accepted text fits; ticket payloads
// are at most 512.
inline constexpr std::size_t qr_text_length_max = 2048;
// ISO/IEC 18004 asks for a quiet zone of four modules.
inline constexpr int qr_quiet_zone_modules_default = 4;
inline constexpr int qr_quiet_zone_modules_max = 16;
inline constexpr int qr_module_size_px_default = 8;
inline constexpr int qr_module_size_px_max = 64;
// A PNG side longer than this is refused: 4096 x 4096 grayscale is 16 MiB before compression.
inline constexpr int qr_image_side_px_max = 4096;

enum class qr_errc : std::uint8_t {
  invalid_text = 1,  // empty, longer than qr_text_length_max, or containing a NUL byte
  invalid_options,   // a module size or quiet zone outside its limits, or an image too large
  encode_failed,     // libqrencode or libpng failed (out of memory)
};

const char* to_string(qr_errc code);

// The symbol's modules, row by row from the top left; 1 = dark. Without quiet zone.
struct qr_matrix {
  int width = 0;  // modules per side: 21 + 4 * (version - 1)
  std::vector<std::uint8_t> modules;
  bool dark(int x, int y) const { return modules[static_cast<std::size_t>(y * width + x)] != 0; }
  friend bool operator==(const qr_matrix&, const qr_matrix&) = default;
};

expected<qr_matrix, qr_errc> encode_qr(std::string_view text);

struct qr_image_options {
  int module_size_px = qr_module_size_px_default;  // 1..qr_module_size_px_max
  int quiet_zone_modules = qr_quiet_zone_modules_default;  // 0..qr_quiet_zone_modules_max
};

// A standalone SVG document: a white background and the dark modules as one <path> (one
// rectangle per horizontal run), in a viewBox of one unit per module including the quiet zone;
// width and height are the size in pixels at options.module_size_px.
expected<std::string, qr_errc> qr_svg(const qr_matrix& matrix, const qr_image_options& options = {});

// An 8-bit grayscale PNG (black modules on white), options.module_size_px pixels per module.
expected<std::vector<std::uint8_t>, qr_errc> qr_png(const qr_matrix& matrix, const qr_image_options& options = {});

}  // namespace eventstripe::actors::payments
