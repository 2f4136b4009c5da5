#include "runtime/host/Png.h"

#include <png.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace dlc {

namespace {

// libpng reports errors through a longjmp; this handler records the message
// first so the caller can say what went wrong.
void onPngError(png_structp png, png_const_charp message) {
  auto *error = static_cast<std::string *>(png_get_error_ptr(png));
  *error = message;
  png_longjmp(png, 1);
}

// The part of the write that libpng may longjmp out of, alone in a function
// whose locals are not changed after the setjmp: a local that is (the
// caller's `ok`) could be clobbered by the longjmp.
bool writeImage(png_structp png, png_infop info, FILE *file, int width, int height,
                const std::vector<uint8_t> &pixels) {
  if (setjmp(png_jmpbuf(png)) != 0)
    return false;
  png_init_io(png, file);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y)
    png_write_row(png, &pixels[size_t(y) * size_t(width)]);
  png_write_end(png, nullptr);
  return true;
}

} // namespace

bool writeGrayPng(const std::string &path, int width, int height,
                  const std::vector<uint8_t> &pixels, std::string &error) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, getpid());
  FILE *file = std::fopen(tmp.c_str(), "wb");
  if (!file) {
    error = fmt::format("{}: cannot write: {}", path, std::strerror(errno));
    return false;
  }
  std::string pngError;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pngError, onPngError, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  bool ok = png && info && writeImage(png, info, file, width, height, pixels);
  png_destroy_write_struct(png ? &png : nullptr, info ? &info : nullptr);
  ok = (std::fclose(file) == 0) && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    pngError = std::strerror(errno);
    ok = false;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    error = fmt::format("{}: cannot write the PNG: {}", path,
                        pngError.empty() ? "out of memory" : pngError);
  }
  return ok;
}

} // namespace dlc
