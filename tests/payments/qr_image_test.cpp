// QR images: what a scanner reads from the PNG is exactly the payload, and the SVG draws the
// same modules as the PNG.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <unistd.h>
#include <vector>

#include <png.h>

#include "actors/payments/qr_image.hpp"

using namespace eventstripe::actors::payments;

namespace {

// Shaped like a real ES1 payload of typical length (the signature part is not a real signature).
const std::string ticket_payload =
    "ES1.dGtfNGZKOHgyTG1ROXpSMGFCY0RlRmd8ZXZfYmJiYmJiYmJiYmJiYmJiYmJiYmJ8dHRfVklQLWZsb29yXzF8MTg5MzQ1NjAwMHwxO"
    "Dk1NTQyNDAwfGtfZXZfYmJiYl8x.3Q9b0cV3aVrXb_Ka9pQ1-2bq7mQwqMq8mH1Qm8i0s4xN8V7yZ1k1g3QhL5dW2bM0e6cT9rVq4uJx7nP2"
    "sK8fBw";

// A file in the temp directory, removed when the test ends.
class temp_file {
 public:
  temp_file(const std::string& name, const void* data, std::size_t size)
      : path_(std::filesystem::temp_directory_path() /
              ("eventstripe_qr_" + std::to_string(::getpid()) + "_" + name)) {
    std::ofstream(path_, std::ios::binary).write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  ~temp_file() { std::filesystem::remove(path_); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

struct command_result {
  int status = -1;
  std::string output;
};

command_result run(const std::string& command) {
  command_result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, read);
  result.status = ::pclose(pipe);
  return result;
}

// The real decoder a scanner app would use: zbar (Debian zbar-tools).
std::string zbar_decode(const std::vector<std::uint8_t>& png, const std::string& name) {
  temp_file file(name + ".png", png.data(), png.size());
  auto result = run("zbarimg --raw -q '" + file.path() + "' 2>/dev/null");
  INFO("zbarimg exit status " << result.status);
  CHECK(result.status == 0);
  if (!result.output.empty() && result.output.back() == '\n') result.output.pop_back();
  return result.output;
}

qr_matrix matrix_of(std::string_view text) {
  auto matrix = encode_qr(text);
  REQUIRE(matrix);
  return matrix.value();
}

struct gray_image {
  int side_px = 0;
  std::vector<std::uint8_t> pixels;
};

gray_image read_png(const std::vector<std::uint8_t>& png) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&image, png.data(), png.size()));
  REQUIRE(image.width == image.height);
  image.format = PNG_FORMAT_GRAY;
  gray_image out{static_cast<int>(image.width), std::vector<std::uint8_t>(PNG_IMAGE_SIZE(image))};
  REQUIRE(png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr));
  return out;
}

// Reads the modules back from the pixels: every pixel of a module has the module's colour and
// the quiet zone is white.
qr_matrix matrix_from_png(const gray_image& image, int width, const qr_image_options& options) {
  const int scale = options.module_size_px;
  const int quiet_px = options.quiet_zone_modules * scale;
  REQUIRE(image.side_px == (width + 2 * options.quiet_zone_modules) * scale);
  qr_matrix matrix{width, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * width)};
  std::size_t wrong_pixels = 0;  // not pure black or white, dark in the quiet zone, or unlike its module
  for (int y = 0; y < image.side_px; ++y)
    for (int x = 0; x < image.side_px; ++x) {
      auto pixel = image.pixels[static_cast<std::size_t>(y) * image.side_px + x];
      if (pixel != 0 && pixel != 255) ++wrong_pixels;
      bool in_symbol = x >= quiet_px && y >= quiet_px && x < quiet_px + width * scale && y < quiet_px + width * scale;
      if (!in_symbol) {
        if (pixel != 255) ++wrong_pixels;
        continue;
      }
      auto& module = matrix.modules[static_cast<std::size_t>((y - quiet_px) / scale) * width + (x - quiet_px) / scale];
      bool first_pixel_of_module = (x - quiet_px) % scale == 0 && (y - quiet_px) % scale == 0;
      if (first_pixel_of_module) module = pixel == 0 ? 1 : 0;
      if (module != (pixel == 0 ? 1 : 0)) ++wrong_pixels;
    }
  REQUIRE(wrong_pixels == 0);
  return matrix;
}

// Reads the modules back from the SVG's single path of "Mx yhNv1h-Nz" runs.
qr_matrix matrix_from_svg(const std::string& svg, int quiet_zone_modules) {
  std::smatch box;
  REQUIRE(std::regex_search(svg, box, std::regex(R"re(viewBox="0 0 (\d+) (\d+)")re")));
  REQUIRE(box[1] == box[2]);
  const int width = std::stoi(box[1]) - 2 * quiet_zone_modules;
  std::smatch path;
  REQUIRE(std::regex_search(svg, path, std::regex(R"re(<path fill="#000" d="([^"]*)"/>)re")));
  qr_matrix matrix{width, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * width)};
  const std::string data = path[1];
  const std::regex run(R"re(M(\d+) (\d+)h(\d+)v1h-(\d+)z)re");
  std::size_t covered = 0;
  for (auto it = std::sregex_iterator(data.begin(), data.end(), run); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    REQUIRE(m.position(0) == static_cast<std::ptrdiff_t>(covered));  // nothing between runs
    covered += static_cast<std::size_t>(m.length(0));
    int x = std::stoi(m[1]) - quiet_zone_modules, y = std::stoi(m[2]) - quiet_zone_modules, length = std::stoi(m[3]);
    REQUIRE(m[3] == m[4]);
    REQUIRE((x >= 0 && y >= 0 && y < width && length >= 1 && x + length <= width));
    for (int i = 0; i < length; ++i) {
      auto& module = matrix.modules[static_cast<std::size_t>(y) * width + x + i];
      REQUIRE(module == 0);  // runs never overlap
      module = 1;
    }
  }
  REQUIRE(covered == data.size());
  return matrix;
}

}  // namespace

TEST_CASE("a payload becomes the smallest level-M symbol, the same every time") {
  auto matrix = matrix_of(ticket_payload);
  CHECK(matrix.width >= 21);
  CHECK((matrix.width - 21) % 4 == 0);
  CHECK(matrix.width <= 177);
  CHECK(matrix.modules.size() == static_cast<std::size_t>(matrix.width) * matrix.width);
  CHECK(matrix == matrix_of(ticket_payload));
  CHECK_FALSE(matrix == matrix_of(ticket_payload + "x"));
  // The three finder patterns' corners are dark.
  CHECK(matrix.dark(0, 0));
  CHECK(matrix.dark(matrix.width - 1, 0));
  CHECK(matrix.dark(0, matrix.width - 1));
  CHECK(matrix_of("x").width == 21);  // version 1
}

TEST_CASE("zbar decodes the PNG to exactly the payload") {
  auto matrix = matrix_of(ticket_payload);
  auto png = qr_png(matrix);
  REQUIRE(png);
  CHECK(png->size() > 8);
  CHECK(std::vector<std::uint8_t>(png->begin(), png->begin() + 8) ==
        std::vector<std::uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
  CHECK(zbar_decode(*png, "ticket") == ticket_payload);

  for (const auto& [text, options] : std::vector<std::pair<std::string, qr_image_options>>{
           {"ES1.short.sig", {4, 4}},
           {"https://eventstripe.example/t/tk_4fJ8x2LmQ9zR0aBcDeFg?x=1&y=a%20b", {3, 4}},
           {std::string(600, 'Q') + "-_end", {2, 4}},
       }) {
    auto other = qr_png(matrix_of(text), options);
    REQUIRE(other);
    CHECK(zbar_decode(*other, "other") == text);
  }
}

TEST_CASE("the PNG draws each module as a square of module_size_px with a white quiet zone") {
  auto matrix = matrix_of(ticket_payload);
  for (auto options : {qr_image_options{}, qr_image_options{1, 4}, qr_image_options{5, 0}, qr_image_options{3, 16}}) {
    auto png = qr_png(matrix, options);
    REQUIRE(png);
    auto image = read_png(*png);
    CHECK(image.side_px == (matrix.width + 2 * options.quiet_zone_modules) * options.module_size_px);
    CHECK(matrix_from_png(image, matrix.width, options) == matrix);
  }
}

TEST_CASE("the SVG is one well-formed document whose single path draws the PNG's modules") {
  auto matrix = matrix_of(ticket_payload);
  auto svg = qr_svg(matrix);
  REQUIRE(svg);
  CHECK(svg->starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(svg->ends_with("</svg>\n"));
  auto count = [&](const std::string& needle) {
    std::size_t found = 0;
    for (auto at = svg->find(needle); at != std::string::npos; at = svg->find(needle, at + 1)) ++found;
    return found;
  };
  CHECK(count("<path") == 1);
  CHECK(count("<svg") == 1);
  CHECK(count("</svg>") == 1);
  const auto side_px = std::to_string((matrix.width + 8) * 8);
  CHECK(svg->find("width=\"" + side_px + "\" height=\"" + side_px + "\"") != std::string::npos);

  auto from_svg = matrix_from_svg(*svg, qr_quiet_zone_modules_default);
  CHECK(from_svg == matrix);
  auto png = qr_png(matrix);
  REQUIRE(png);
  CHECK(from_svg == matrix_from_png(read_png(*png), matrix.width, {}));

  auto no_quiet_zone = qr_svg(matrix, {8, 0});
  REQUIRE(no_quiet_zone);
  CHECK(matrix_from_svg(*no_quiet_zone, 0) == matrix);

  // zbarimg cannot rasterize SVG here (no SVG delegate), so a real XML parser checks the syntax
  // where one is installed.
  if (run("command -v xmllint >/dev/null 2>&1").status == 0) {
    temp_file file("ticket.svg", svg->data(), svg->size());
    CHECK(run("xmllint --noout '" + file.path() + "' 2>&1").status == 0);
  } else {
    WARN("xmllint not installed: SVG syntax checked structurally only");
  }
}

TEST_CASE("texts a QR code cannot carry are refused") {
  CHECK(encode_qr("").error() == qr_errc::invalid_text);
  CHECK(encode_qr(std::string_view("ab\0cd", 5)).error() == qr_errc::invalid_text);
  CHECK(encode_qr(std::string(qr_text_length_max + 1, 'a')).error() == qr_errc::invalid_text);
  // The longest accepted text fits the largest symbol, even as bytes that are not ASCII.
  auto longest = encode_qr(std::string(qr_text_length_max, '\xff'));
  REQUIRE(longest);
  CHECK(longest->width <= 177);
}

TEST_CASE("image options outside their limits are refused") {
  auto matrix = matrix_of(ticket_payload);
  for (auto options : {qr_image_options{0, 4}, qr_image_options{qr_module_size_px_max + 1, 4}, qr_image_options{8, -1},
                       qr_image_options{8, qr_quiet_zone_modules_max + 1}}) {
    CHECK(qr_png(matrix, options).error() == qr_errc::invalid_options);
    CHECK(qr_svg(matrix, options).error() == qr_errc::invalid_options);
  }
  auto largest = matrix_of(std::string(qr_text_length_max, 'x'));
  CHECK(qr_png(largest, {qr_module_size_px_max, 4}).error() == qr_errc::invalid_options);  // > 4096 px
  CHECK(qr_png(largest, {8, 4}));
  qr_matrix broken{3, {1, 0, 1}};
  CHECK(qr_png(broken).error() == qr_errc::invalid_options);
  CHECK(qr_svg(qr_matrix{}).error() == qr_errc::invalid_options);
}
