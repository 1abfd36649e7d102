#include "actors/time_format.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>

namespace eventstripe::actors {
namespace {

constexpr std::string_view zoneinfo_directory = "/usr/share/zoneinfo/";
constexpr std::size_t time_zone_name_size_max = 64;

bool digits(std::string_view text, std::size_t at, std::size_t count, int& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string iso8601_ms(std::int64_t unix_ms) {
  auto seconds = static_cast<std::time_t>(unix_ms / 1000);
  auto millis = static_cast<int>(unix_ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  auto written = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + written, sizeof text - written, ".%03dZ", millis);
  return text;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (!digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' || !digits(text, 5, 2, month) ||
      text[7] != '-' || !digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
      !digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, minute) || text[16] != ':' ||
      !digits(text, 17, 2, second))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  std::size_t at = 19;
  int millis = 0;
  if (at < text.size() && text[at] == '.') {
    std::size_t fraction_digits = 0;
    for (++at; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at, ++fraction_digits)
      if (fraction_digits < 3) millis = millis * 10 + (text[at] - '0');
    if (fraction_digits == 0) return std::nullopt;
    for (; fraction_digits < 3; ++fraction_digits) millis *= 10;
  }
  int offset_minutes = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at + 6 == text.size() && (text[at] == '+' || text[at] == '-') && text[at + 3] == ':') {
    int offset_hours, offset_mins;
    if (!digits(text, at + 1, 2, offset_hours) || !digits(text, at + 4, 2, offset_mins) || offset_hours > 23 ||
        offset_mins > 59)
      return std::nullopt;
    offset_minutes = (text[at] == '+' ? 1 : -1) * (offset_hours * 60 + offset_mins);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  std::tm fields{};
  fields.tm_year = year - 1900;
  fields.tm_mon = month - 1;
  fields.tm_mday = day;
  fields.tm_hour = hour;
  fields.tm_min = minute;
  fields.tm_sec = second;
  auto seconds = timegm(&fields);
  if (fields.tm_mday != day) return std::nullopt;  // 31 April rolled over to 1 May
  return (static_cast<std::int64_t>(seconds) - offset_minutes * 60) * 1000 + millis;
}

bool is_time_zone(std::string_view name) {
  if (name.empty() || name.size() > time_zone_name_size_max || name.front() == '/' ||
      name.find("..") != std::string_view::npos)
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' && c != '+') return false;
  std::error_code ignored;
  return std::filesystem::is_regular_file(std::string{zoneinfo_directory} + std::string{name}, ignored);
}

}  // namespace eventstripe::actors
