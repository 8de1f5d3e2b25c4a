// The dose desk: scan the booking QR with the camera where the browser can (BarcodeDetector),
// and make a photo small before it is sent where it cannot. Without this script the page
// still works: type the code, or send the photo as it is (up to 250 KB).
"use strict";
(function () {
  const search = document.getElementById("search");
  const scan = document.getElementById("scan");
  if (!search) return;
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    const button = document.getElementById("camera");
    const video = document.getElementById("viewfinder");
    button.hidden = false;
    button.addEventListener("click", async function () {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      } catch (refused) {  // no camera, or its use refused: the photo form stays
        button.hidden = true;
        return;
      }
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      const look = async function () {
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length) {
          stream.getTracks().forEach((track) => track.stop());
          search.querySelector("input[name=q]").value = codes[0].rawValue;
          search.submit();
          return;
        }
        window.setTimeout(look, 250);
      };
      look();
    });
  }
  if (scan) {
    const input = scan.querySelector("input[type=file]");
    scan.addEventListener("submit", async function (event) {
      const file = input.files && input.files[0];
      if (!file || file.size < 200000 || !window.createImageBitmap) return;
      event.preventDefault();
      const bitmap = await createImageBitmap(file);
      const ratio = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * ratio);
      canvas.height = Math.round(bitmap.height * ratio);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.85));
      const data = new FormData(scan);
      data.set("photo", blob, "qr.jpg");
      const answer = await fetch(scan.action, { method: "POST", body: data, credentials: "same-origin" });
      if (answer.redirected) {
        window.location.assign(answer.url);
      } else {  // refused (an expired page, a file too large): send it the plain way
        scan.submit();
      }
    });
  }
})();
