#include "actors/payments/qr_image.hpp"

#include <algorithm>
#include <memory>

#include <png.h>
#include <qrencode.h>

namespace eventstripe::actors::payments {
namespace {

constexpr std::uint8_t png_black = 0;
constexpr std::uint8_t png_white = 255;

struct qrcode_deleter {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

bool valid_options(const qr_matrix& matrix, const qr_image_options& options) {
  if (options.module_size_px < 1 || options.module_size_px > qr_module_size_px_max) return false;
  if (options.quiet_zone_modules < 0 || options.quiet_zone_modules > qr_quiet_zone_modules_max) return false;
  if (matrix.width < 1 || matrix.modules.size() != static_cast<std::size_t>(matrix.width) * matrix.width) return false;
  auto side_px = static_cast<std::int64_t>(matrix.width + 2 * options.quiet_zone_modules) * options.module_size_px;
  return side_px <= qr_image_side_px_max;
}

}  // namespace

const char* to_string(qr_errc code) {
  switch (code) {
    case qr_errc::invalid_text: return "invalid_text";
    case qr_errc::invalid_options: return "invalid_options";
    case qr_errc::encode_failed: return "encode_failed";
  }
  return "unknown_qr_error";
}

expected<qr_matrix, qr_errc> encode_qr(std::string_view text) {
  if (text.empty() || text.size() > qr_text_length_max || text.find('\0') != std::string_view::npos)
    return qr_errc::invalid_text;
  const std::string terminated(text);  // libqrencode reads a C string
  // Version 0: the smallest symbol that holds the text. Case-sensitive, so base64url survives.
  std::unique_ptr<QRcode, qrcode_deleter> code(QRcode_encodeString(terminated.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (!code) return qr_errc::encode_failed;
  qr_matrix matrix;
  matrix.width = code->width;
  matrix.modules.resize(static_cast<std::size_t>(code->width) * code->width);
  // Bit 0 of each byte is the module's colour; the other bits describe its role (finder, timing...).
  for (std::size_t at = 0; at < matrix.modules.size(); ++at) matrix.modules[at] = code->data[at] & 1u;
  return matrix;
}

expected<std::string, qr_errc> qr_svg(const qr_matrix& matrix, const qr_image_options& options) {
  if (!valid_options(matrix, options)) return qr_errc::invalid_options;
  const int quiet = options.quiet_zone_modules;
  const auto side = std::to_string(matrix.width + 2 * quiet);
  const auto side_px = std::to_string((matrix.width + 2 * quiet) * options.module_size_px);
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + side_px + "\" height=\"" + side_px +
         "\" viewBox=\"0 0 " + side + " " + side + "\" shape-rendering=\"crispEdges\">";
  svg += "<rect width=\"" + side + "\" height=\"" + side + "\" fill=\"#fff\"/>";
  svg += "<path fill=\"#000\" d=\"";
  for (int y = 0; y < matrix.width; ++y) {
    for (int x = 0; x < matrix.width;) {
      if (!matrix.dark(x, y)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < matrix.width && matrix.dark(x + run, y)) ++run;
      svg += "M" + std::to_string(x + quiet) + " " + std::to_string(y + quiet) + "h" + std::to_string(run) +
             "v1h-" + std::to_string(run) + "z";
      x += run;
    }
  }
  svg += "\"/></svg>\n";
  return svg;
}

expected<std::vector<std::uint8_t>, qr_errc> qr_png(const qr_matrix& matrix, const qr_image_options& options) {
  if (!valid_options(matrix, options)) return qr_errc::invalid_options;
  const int scale = options.module_size_px;
  const int quiet_px = options.quiet_zone_modules * scale;
  const int side_px = matrix.width * scale + 2 * quiet_px;
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(side_px) * side_px, png_white);
  for (int y = 0; y < matrix.width; ++y)
    for (int x = 0; x < matrix.width; ++x) {
      if (!matrix.dark(x, y)) continue;
      for (int row = 0; row < scale; ++row) {
        auto* start = &pixels[static_cast<std::size_t>(quiet_px + y * scale + row) * side_px + quiet_px + x * scale];
        std::fill(start, start + scale, png_black);
      }
    }

  // libpng's simplified API reports errors by return value, so no setjmp crosses C++ frames.
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(side_px);
  image.height = static_cast<png_uint_32>(side_px);
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), side_px, nullptr)) {
    png_image_free(&image);
    return qr_errc::encode_failed;
  }
  std::vector<std::uint8_t> png(size);
  if (!png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), side_px, nullptr)) {
    png_image_free(&image);
    return qr_errc::encode_failed;
  }
  png.resize(size);
  return png;
}

}  // namespace eventstripe::actors::payments
