// Grayscale PNG files for `dlc train --samples` (sample grids), through
// libpng.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

// Writes `pixels` (width * height bytes, row-major) to `path`, through a
// temporary file renamed into place, so a crash never leaves half a PNG.
bool writeGrayPng(const std::string &path, int width, int height,
                  const std::vector<uint8_t> &pixels, std::string &error);

} // namespace dlc
