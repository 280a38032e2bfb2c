// photo_hog.cpp -- dlib's HOG face detector (5 filters: frontal, turned
// left/right, rolled left/right by ~27 degrees; an 80x80 window) for
// photo_detect.c.  The only C++ of the pipeline: no exception leaves it.
#include "photo_hog.h"

#include <dlib/image_processing/object_detector.h>
#include <dlib/image_processing/scan_fhog_pyramid.h>
#include <dlib/image_transforms/interpolation.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>

extern "C" const unsigned char photo_hog_model[];
extern "C" const size_t photo_hog_model_len;

typedef dlib::object_detector<dlib::scan_fhog_pyramid<dlib::pyramid_down<6> > > hog_t;

// One detector per process, loaded on first use (the pool's children each
// pay ~10 ms once).
static hog_t *model()
{
    static hog_t *det;
    static bool failed;
    if (det || failed)
        return det;
    try {
        std::istringstream in(std::string(reinterpret_cast<const char *>(photo_hog_model),
                    photo_hog_model_len));
        hog_t *d = new hog_t;
        dlib::deserialize(*d, in);
        det = d;
    } catch (...) {
        failed = true;
    }
    return det;
}

extern "C" int photo_hog_detect(const uint8_t *grey, int w, int h, double scale, double thr,
        photo_hog_box_t *out, int max)
{
    if (w < 1 || h < 1 || scale <= 0 || max < 0)
        return -1;
    try {
        hog_t *det = model();
        if (!det)
            return -1;
        dlib::array2d<unsigned char> src(h, w);
        for (int y = 0; y < h; y++)
            std::memcpy(&src[y][0], grey + (size_t)y * w, (size_t)w);
        long sw = std::max(1L, std::lround(w * scale)), sh = std::max(1L, std::lround(h * scale));
        std::vector<dlib::rect_detection> dets;
        if (sw == w && sh == h) {
            (*det)(src, dets, thr);
        } else {
            dlib::array2d<unsigned char> img(sh, sw);
            dlib::resize_image(src, img, dlib::interpolate_bilinear());
            (*det)(img, dets, thr);
        }
        std::sort(dets.begin(), dets.end(), [](const dlib::rect_detection &a,
                    const dlib::rect_detection &b) { return a.detection_confidence > b.detection_confidence; });
        int n = 0;
        double kx = (double)w / sw, ky = (double)h / sh;
        for (const auto &d : dets) {
            if (n >= max)
                break;
            photo_hog_box_t *b = &out[n++];
            b->x = d.rect.left() * kx;
            b->y = d.rect.top() * ky;
            b->w = d.rect.width() * kx;
            b->h = d.rect.height() * ky;
            b->score = d.detection_confidence;
        }
        return n;
    } catch (...) {
        return -1;
    }
}
