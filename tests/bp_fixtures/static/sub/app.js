console.log("bp");
