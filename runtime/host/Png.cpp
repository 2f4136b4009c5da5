#include "runtime/host/Png.h"

#include <png.h>

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

} // namespace

bool writeGrayPng(const std::string &path, int width, int height,
                  const std::vector<uint8_t> &pixels, std::string &error) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  FILE *file = std::fopen(tmp.c_str(), "wb");
  if (!file) {
    error = path + ": cannot write: " + std::strerror(errno);
    return false;
  }
  std::string pngError;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pngError, onPngError, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  bool ok = png && info;
  if (ok && setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, file);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; ++y)
      png_write_row(png, &pixels[size_t(y) * size_t(width)]);
    png_write_end(png, nullptr);
  } else {
    ok = false;
  }
  png_destroy_write_struct(png ? &png : nullptr, info ? &info : nullptr);
  ok = (std::fclose(file) == 0) && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    pngError = std::strerror(errno);
    ok = false;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    error = path + ": cannot write the PNG: " + (pngError.empty() ? "out of memory" : pngError);
  }
  return ok;
}

} // namespace dlc
