from censorwatch.cli import main

if __name__ == "__main__":  # not when a worker process (multiprocessing) imports it as __mp_main__
    main()
